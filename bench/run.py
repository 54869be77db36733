#!/usr/bin/env python3
"""bench/run.py: runs weft's benchmarks against its peers, prints the table,
writes bench/results/bench-<time>.json, .svg and latest.{json,svg,txt}.

    python3 bench/run.py BUILD quick|full [--only lib|tool] [--figures a,b]

(bench/run.sh builds the drivers first and then calls this.)

DESIGN: one round runs every figure once for every implementation, one
process per figure and implementation (see bench/main.c); a figure's
implementations run back to back, in an order rotated every round, so that
each ratio compares measurements taken within one round, minutes apart at
most. quick runs 3 rounds, full 7; the table shows each median with its
min-max, and the ratio is the median over rounds of (weft vs the best peer
of that round), expressed so that > 1 means weft is ahead. A driver that is
missing, fails or times out gives "n/a" or "fail" for that cell only."""

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from statistics import median

import crawl_floor  # this directory's (Python puts the script's directory on sys.path)

HERE = os.path.dirname(os.path.abspath(__file__))
NCPU = os.cpu_count() or 2
# The Python peers run on the system's python3, where scripts/deps.sh
# installs python3-requests and python3-bs4 (a pyenv or venv python3 that
# runs this script may lack them).
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# ------------------------------------------------------------ library figures

LIB_IMPLS = ["weft", "pthread", "glib", "libuv", "tbb", "python"]
LIB_TITLES = {
    "weft": "weft",
    "pthread": "pthread pool",
    "glib": "GLib",
    "libuv": "libuv",
    "tbb": "oneTBB",
    "python": "Python 3",
}


def lib_figures(mode):
    full = mode == "full"
    # quick must stay under 5 minutes on 2 loaded cores: Python's executor
    # runs ~35k tasks/s, so 3 rounds x 3 pool sizes of 200,000 tasks were a
    # minute of the run on their own. Rates, so the halved count compares
    # the same way.
    tasks = 200000 if full else 100000
    q = 1000000 if full else 200000
    lk = 10000000 if full else 2000000
    lkc = 4000000 if full else 1000000
    rtt = 10000 if full else 2000
    thr = 5000 if full else 1000
    figs = []
    for w in sorted({NCPU, 8, 100}):
        figs.append(dict(key=f"tasks_w{w}", label=f"tiny tasks, {w} workers", unit="tasks/s",
                         better="high", argv=["tasks", w, tasks]))
    figs.append(dict(key="rtt", keys=["rtt_p50", "rtt_p99"],
                     labels=[f"round trip p50, {NCPU} workers", f"round trip p99, {NCPU} workers"],
                     unit="us", better="low", argv=["rtt", NCPU, rtt]))
    # Warm: every pool's 200 threads exist before the clock starts (they
    # ran a batch that met at a gate), so the figure is the pool's hand-off
    # alone. Cold: pool creation and thread starts are timed, bounded by the
    # floor below (how long 200 pthread_create take on this machine, the
    # same code whichever driver runs it: only the pthread one does).
    figs.append(dict(key="io_warm", label="I/O overlap 2000x10ms/200, warm pool", unit="eff",
                     better="high", argv=["iowarm", 200, 2000, 0.01]))
    # The warm figure's floor: 200 running threads sleeping 10 x 10 ms with
    # no pool at all (wakeups and timer slack alone; no pool can beat it).
    figs.append(dict(key="io_floor", label="floor: 200 threads sleeping 10x10ms, no pool",
                     unit="eff", better="none", argv=["sleepfloor", 200, 2000, 0.01],
                     only=["pthread"]))
    figs.append(dict(key="io_eff", label="I/O overlap 2000x10ms/200, cold (starts timed)",
                     unit="eff", better="high", argv=["io", 200, 2000, 0.01]))
    figs.append(dict(key="spawn200", label="floor: 200 pthread_create until all run",
                     unit="ms", better="none", argv=["spawn", 200], only=["pthread"]))
    figs.append(dict(key="queue_1to1", label="bounded queue 1->1, cap 1024", unit="items/s",
                     better="high", argv=["queue", 1, q, 1024]))
    figs.append(dict(key="queue_2to2", label="bounded queue 2->2, cap 1024", unit="items/s",
                     better="high", argv=["queue", 2, q, 1024]))
    figs.append(dict(key="deque_1to1", label="deque append->popleft 1->1, unbounded",
                     unit="items/s", better="high", argv=["deque", 1, q]))
    figs.append(dict(key="deque_2to2", label="deque append->popleft 2->2, unbounded",
                     unit="items/s", better="high", argv=["deque", 2, q]))
    figs.append(dict(key="lock", label="lock acquire+release, 1 thread", unit="ns",
                     better="low", argv=["lock", lk]))
    figs.append(dict(key="lockc", label="lock acquire+release, 4 threads", unit="ns",
                     better="low", argv=["lockc", 4, lkc]))
    figs.append(dict(key="thread", label="thread start+join", unit="us", better="low",
                     argv=["thread", thr]))
    figs.append(dict(key="idle_kib", label="RSS per idle pool thread (100)", unit="KiB",
                     better="low", argv=["idle", 100]))
    figs.append(dict(key="sleep_mib", label="RSS of 10,000 threads, 64 KiB stacks", unit="MiB",
                     better="low", argv=["sleepers", 10000, 65536]))
    return figs


def lib_command(build, impl):
    if impl == "python":
        return [PY, os.path.join(HERE, "peer_python.py")]
    exe = os.path.join(build, "bench", "bench-lib-" + ("uv" if impl == "libuv" else impl))
    return [exe] if os.access(exe, os.X_OK) else None


def run_lib_cell(cmd, fig, timeout):
    """Returns a list of floats, "n/a" or "fail"."""
    if cmd is None:
        return "n/a"
    try:
        p = subprocess.run(cmd + [str(a) for a in fig["argv"]], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "fail"
    out = p.stdout.strip()
    if p.returncode == 3 or out == "n/a":
        return "n/a"
    if p.returncode != 0:
        sys.stderr.write(f"  {' '.join(cmd[-1:])} {fig['argv']}: exit {p.returncode} "
                         f"{p.stderr.strip()[:200]}\n")
        return "fail"
    try:
        return [float(x) for x in out.split()]
    except ValueError:
        return "fail"


# ------------------------------------------------------------ tool figures

FETCH_CLIENTS = ["weft", "curl", "xargs", "requests"]
CRAWL_CLIENTS = ["weft", "wget2", "bs4"]
TOOL_TITLES = {
    "weft": "weft",
    "curl": "curl --parallel",
    "xargs": "xargs -P curl",
    "requests": "Python requests",
    "wget2": "wget2",
    "bs4": "Python requests+bs4",
}


def have(prog):
    return any(os.access(os.path.join(d, prog), os.X_OK)
               for d in os.environ.get("PATH", "").split(os.pathsep))


def python_has(*mods):
    return subprocess.run([PY, "-c", "import " + ",".join(mods)],
                          capture_output=True).returncode == 0


def measure(cmd, timeout, stdin=None, out_path=None):
    """Runs cmd, its stdout and stderr in out_path (or thrown away); returns
    (wall s, user+sys s of it and its waited-for descendants, peak RSS MiB of
    the largest, exit status). Through /usr/bin/time when present: a child
    forked straight from this Python process would report Python's own RSS
    as its peak (Linux carries the high-water mark across exec)."""
    tfile = None
    if TIME:
        fd, tfile = tempfile.mkstemp(prefix="weft-bench-time-")
        os.close(fd)
        cmd = [TIME, "-f", "%e %U %S %M", "-o", tfile] + cmd
    with open(out_path or os.devnull, "w") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.002)
        wall = time.monotonic() - t0
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    cpu, rss = ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0
    if tfile:
        try:
            with open(tfile) as fh:
                last = [ln for ln in fh.read().splitlines() if ln.strip()][-1].split()
            wall, cpu, rss = float(last[0]), float(last[1]) + float(last[2]), float(last[3]) / 1024
        except (OSError, IndexError, ValueError):
            pass
        os.unlink(tfile)
    if rc != 0:
        sys.stderr.write(f"  {' '.join(os.path.basename(x) for x in cmd[-len(cmd):][6:9])}: "
                         f"exit {rc}\n" if TIME else f"  {cmd[0]}: exit {rc}\n")
    return wall, cpu, rss, rc


class Server:
    """`weft serve` on loopback; stopped by stop() (and at exit). Port 80
    when it can bind it (root, port free): wget2 1.99 sends "Host: 127.0.0.1"
    without the port, the site writes its absolute links with the Host it
    was given, so on another port wget2 follows them to port 80. Elsewhere
    wget2 crawls fewer pages (and runs with --tries=1 not to stall)."""

    def __init__(self, weft, latency, pages):
        self.p = None
        for port in (80, 0):
            self.p = subprocess.Popen([weft, "serve", "--port", str(port), "--latency",
                                       str(latency), "--pages", str(pages)],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            line = self.p.stdout.readline().strip()
            if line.startswith("http"):
                # http://127.0.0.1:80 -> http://127.0.0.1, the form the
                # site's absolute links take (from the Host header), so a
                # crawler comparing host:port keeps them on-site.
                self.base = line.rstrip("/").replace("127.0.0.1:80", "127.0.0.1") \
                    if port == 80 else line.rstrip("/")
                self.port = port
                return
            self.stop()
        raise RuntimeError("weft serve did not print its URL")

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def tool_usable(weft):
    if not weft or not os.access(weft, os.X_OK):
        return False
    ok = all(subprocess.run([weft, c, "--help"], capture_output=True).returncode == 0
             for c in ("serve", "fetch"))
    return ok


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------------ statistics and output


def fmt(v, unit=""):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def summarize(runs, impls, better, ref="weft"):
    """runs: {impl: [value or None per round]}. Returns per impl
    (median, min, max, n) and the ratio (median, min, max) of ref vs the best
    other implementation, round by round."""
    cells = {}
    for impl in impls:
        vals = [v for v in runs.get(impl, []) if isinstance(v, (int, float))]
        if vals:
            cells[impl] = dict(median=median(vals), min=min(vals), max=max(vals), n=len(vals))
        else:
            states = [v for v in runs.get(impl, []) if isinstance(v, str)]
            cells[impl] = dict(status=states[0] if states else "n/a")
    ratios = []
    if better not in ("high", "low"):
        return cells, None
    nrounds = max((len(v) for v in runs.values()), default=0)
    for r in range(nrounds):
        mine = runs.get(ref, [None] * nrounds)[r] if r < len(runs.get(ref, [])) else None
        peers = [runs[i][r] for i in impls if i != ref and r < len(runs.get(i, []))
                 and isinstance(runs[i][r], (int, float))]
        if not isinstance(mine, (int, float)) or not peers:
            continue
        if better == "high":
            best = max(peers)
            ratios.append(mine / best if best > 0 else None)
        else:
            best = min(peers)
            ratios.append(best / mine if mine > 0 else None)
    ratios = [x for x in ratios if x is not None]
    ratio = dict(median=median(ratios), min=min(ratios), max=max(ratios)) if ratios else None
    return cells, ratio


def cell_text(c):
    if "median" not in c:
        return c.get("status", "n/a")
    if c["n"] == 1 or c["min"] == c["max"]:
        return fmt(c["median"])
    return f"{fmt(c['median'])} ({fmt(c['min'])}-{fmt(c['max'])})"


def table(title, rows, impls, titles):
    """rows: list of (label, unit, cells, ratio)."""
    head = ["figure", "unit"] + [titles[i] for i in impls] + ["ratio"]
    body = []
    for label, unit, cells, ratio in rows:
        r = [label, unit] + [cell_text(cells[i]) for i in impls]
        r.append(f"{ratio['median']:.2f}" if ratio else "n/a")
        body.append(r)
    widths = [max(len(x[k]) for x in [head] + body) for k in range(len(head))]
    lines = [title]
    for k, r in enumerate([head] + body):
        lines.append("  ".join(x.ljust(widths[j]) if j < 2 else x.rjust(widths[j])
                               for j, x in enumerate(r)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_chart(sections):
    """sections: list of (title, impls, titles, rows) with rows as for table().
    Grouped horizontal bars; each figure is scaled to its best median = 1
    (higher is better whatever the unit), the real values in the labels."""
    bar, gap, left, width = 11, 10, 330, 420
    y = 40
    parts = []
    for title, impls, titles, rows in sections:
        parts.append(f'<text x="10" y="{y}" font-size="16" font-weight="bold">{esc(title)}</text>')
        y += 10
        for k, impl in enumerate(impls):
            x = left + (k % 4) * 150
            yy = y + (k // 4) * 16
            parts.append(f'<rect x="{x}" y="{yy}" width="12" height="10" fill="{PALETTE[k]}"/>'
                         f'<text x="{x + 16}" y="{yy + 9}" font-size="11">'
                         f'{esc(titles[impl])}</text>')
        y += 16 * ((len(impls) + 3) // 4) + 12
        for label, unit, cells, ratio, better in rows:
            meds = {i: cells[i]["median"] for i in impls if "median" in cells[i]}
            if not meds:
                continue
            if better not in ("high", "low"):
                better = "high"
            best = max(meds.values()) if better == "high" else min(meds.values())
            h = len(impls) * bar
            parts.append(f'<text x="10" y="{y + h / 2 + 4}" font-size="12">{esc(label)}</text>')
            parts.append(f'<text x="10" y="{y + h / 2 + 17}" font-size="10" fill="#666">'
                         f'{esc(unit)}, {"higher" if better == "high" else "lower"} is better'
                         f'{", weft ratio %.2f" % ratio["median"] if ratio else ""}</text>')
            for k, impl in enumerate(impls):
                yy = y + k * bar
                c = cells[impl]
                if "median" not in c:
                    parts.append(f'<text x="{left + 4}" y="{yy + 9}" font-size="9" fill="#999">'
                                 f'{esc(titles[impl])}: {c.get("status", "n/a")}</text>')
                    continue
                v = c["median"]
                rel = (v / best if better == "high" else (best / v if v > 0 else 0)) if best else 0
                w = max(1.0, rel * width)
                parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar - 2}" '
                             f'fill="{PALETTE[k]}"><title>{esc(titles[impl])}: '
                             f'{esc(cell_text(c))} {esc(unit)}</title></rect>')
                parts.append(f'<text x="{left + w + 4:.1f}" y="{yy + 9}" font-size="9">'
                             f'{esc(cell_text(c))}</text>')
            y += h + gap + 8
        y += 20
    total_w = left + width + 230
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{y}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(parts) + "\n</svg>\n")


# ------------------------------------------------------------ the run


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[1] not in ("quick", "full"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    build, mode = args[0], args[1]
    only = None
    figure_filter = None
    if "--only" in args:
        only = args[args.index("--only") + 1]
    if "--figures" in args:
        figure_filter = set(args[args.index("--figures") + 1].split(","))
    rounds = 7 if mode == "full" else 3
    outdir = os.path.join(HERE, "results")
    os.makedirs(outdir, exist_ok=True)
    started = time.time()
    raise_nofile()

    result = dict(meta=dict(mode=mode, rounds=rounds, ncpu=NCPU, host=os.uname().nodename,
                            kernel=os.uname().release,
                            python=subprocess.run([PY, "--version"], capture_output=True,
                                                  text=True).stdout.split()[-1],
                            date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                            loadavg_start=os.getloadavg()[0]),
                  library={}, fetch={}, crawl={})

    # --- library
    if only in (None, "lib"):
        figs = [f for f in lib_figures(mode)
                if not figure_filter or f["key"] in figure_filter]
        cmds = {i: lib_command(build, i) for i in LIB_IMPLS}
        if not python_has("concurrent.futures"):
            cmds["python"] = None
        for f in figs:
            for key, label in zip(f.get("keys", [f["key"]]), f.get("labels", [f.get("label")])):
                result["library"][key] = dict(label=label, unit=f["unit"], better=f["better"],
                                              argv=f["argv"], runs={i: [] for i in LIB_IMPLS})
        timeout = 300 if mode == "full" else 120
        cost = result["meta"]["seconds_per_cell"] = {}
        for r in range(rounds):
            print(f"library round {r + 1}/{rounds} ...", file=sys.stderr, flush=True)
            for f in figs:
                order = LIB_IMPLS[r % len(LIB_IMPLS):] + LIB_IMPLS[:r % len(LIB_IMPLS)]
                for impl in order:
                    t0 = time.monotonic()
                    v = run_lib_cell(cmds[impl], f, timeout) \
                        if impl in f.get("only", LIB_IMPLS) else "-"
                    spent = cost.setdefault(f["key"], {})
                    spent[impl] = round(spent.get(impl, 0) + time.monotonic() - t0, 2)
                    for k, key in enumerate(f.get("keys", [f["key"]])):
                        cell = v[k] if isinstance(v, list) and k < len(v) else (
                            v if isinstance(v, str) else "fail")
                        result["library"][key]["runs"][impl].append(cell)

    # --- tool
    weft = os.environ.get("WEFT_BIN") or os.path.join(build, "tool", "weft")
    if only in (None, "tool"):
        if not tool_usable(weft):
            print("tool: weft serve/fetch not built: tool figures n/a", file=sys.stderr)
        else:
            tool_round(weft, mode, rounds, result)

    # --- summary, table, files
    out = []
    meta = result["meta"]
    out.append(f"weft benchmarks, {mode}: {rounds} rounds, {NCPU} CPUs, {meta['date']}, "
               f"load average {meta['loadavg_start']:.1f} at start")
    out.append("cells: median (min-max) over rounds; ratio: weft vs the best peer, median over "
               "rounds, > 1 = weft ahead")
    sections = []
    for part, impls, titles, title in (("library", LIB_IMPLS, LIB_TITLES, "Library"),
                                       ("fetch", FETCH_CLIENTS, TOOL_TITLES,
                                        "weft fetch: 1,000 URLs, 100 ms latency, 100 workers"),
                                       ("crawl", CRAWL_CLIENTS, TOOL_TITLES,
                                        "weft crawl: 1,000-page site, 100 ms latency, 100 workers "
                                        "unless said")):
        rows, srows = [], []
        for key, fig in result[part].items():
            cells, ratio = summarize(fig["runs"], impls, fig["better"])
            fig["summary"] = dict(cells=cells, ratio=ratio)
            rows.append((fig["label"], fig["unit"], cells, ratio))
            srows.append((fig["label"], fig["unit"], cells, ratio, fig["better"]))
        if rows:
            out.append("")
            out.append(table(title, rows, impls, titles))
            sections.append((title, impls, titles, srows))
        elif part != "library" and only in (None, "tool"):
            out.append("")
            out.append(f"{title}: n/a (the weft tool is not built)")
    meta["seconds"] = round(time.time() - started, 1)
    meta["loadavg_end"] = os.getloadavg()[0]
    out.append("")
    out.append(f"took {meta['seconds']:.0f} s; load average {meta['loadavg_end']:.1f} at end")
    text = "\n".join(out)
    print(text)

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    svg = svg_chart(sections)
    for name in (f"bench-{stamp}", "latest"):
        with open(os.path.join(outdir, name + ".json"), "w") as fh:
            json.dump(result, fh, indent=1)
        with open(os.path.join(outdir, name + ".svg"), "w") as fh:
            fh.write(svg)
        with open(os.path.join(outdir, name + ".txt"), "w") as fh:
            fh.write(text + "\n")
    print(f"\nwrote {os.path.relpath(outdir)}/bench-{stamp}.{{json,svg,txt}} (and latest.*)")
    return 0


# Concurrencies of the crawl race; 100 is the one the CPU, RSS and Python
# figures use. 8 workers take 13 s a run: in the full run only.
CRAWL_JOBS = {"quick": [32, 100, 300], "full": [8, 32, 100, 300]}


def crawl_key(j):
    return "crawl_wall" if j == 100 else f"crawl_wall_j{j}"


def tool_round(weft, mode, rounds, result):
    fetch_figs = [("wall", "wall time", "s"), ("cpu", "CPU user+sys", "s"),
                  ("rss", "peak RSS", "MiB")]
    # The crawl race against wget2 also at other concurrencies, each beside
    # the floor of any crawler that learns links by fetching them
    # (bench/crawl_floor.py): the site's link graph makes a chain of round
    # trips that no client at the same concurrency can shorten.
    extra_j = [j for j in CRAWL_JOBS[mode] if j != 100]
    for part, clients, what in (("fetch", FETCH_CLIENTS, "1,000 URLs"),
                                ("crawl", CRAWL_CLIENTS, "1,000 pages")):
        for key, label, unit in fetch_figs:
            if part == "crawl" and key == "wall":
                for j in CRAWL_JOBS[mode]:
                    result[part][crawl_key(j)] = dict(
                        label=f"crawl {what}, {j} workers: wall time", unit=unit, better="low",
                        runs={c: [] for c in clients})
                    result[part][f"crawl_floor_j{j}"] = dict(
                        label=f"floor: any crawler, {j} workers (simulated)", unit=unit,
                        better="none", runs={c: [] for c in clients})
                continue
            result[part][f"{part}_{key}"] = dict(label=f"{part} {what}: {label}", unit=unit,
                                                 better="low", runs={c: [] for c in clients})
        # Not a race: a check that each client did the whole job (no ratio).
        result[part][f"{part}_pages"] = dict(label=f"{part}: pages fetched", unit="pages",
                                             better="none", runs={c: [] for c in clients})
    tmp = tempfile.mkdtemp(prefix="weft-bench-")
    srv = None

    def stop(*_):
        if srv:
            srv.stop()
        sys.exit(130)

    old = signal.signal(signal.SIGTERM, stop)
    try:
        srv = Server(weft, 0.1, 1000)
        base = srv.base
        try:
            for j, (online, _oracle) in crawl_floor.floors(base, 0.1, CRAWL_JOBS[mode]).items():
                runs = result["crawl"][f"crawl_floor_j{j}"]["runs"]
                for c in runs:
                    runs[c].append(round(online, 3) if c == "weft" else "-")
        except (OSError, ValueError) as e:
            print(f"crawl floor: {e}: n/a", file=sys.stderr)
        urls = os.path.join(tmp, "urls")
        with open(urls, "w") as fh:
            for i in range(1000):
                fh.write(f"{base}/page/{i}?n={i}\n")
        cfg = os.path.join(tmp, "curl.cfg")
        with open(cfg, "w") as fh:
            for i in range(1000):
                fh.write(f'url = "{base}/page/{i}?n={i}"\noutput = "/dev/null"\n')
        has_curl_par = have("curl") and "--parallel-max" in subprocess.run(
            ["curl", "--help", "all"], capture_output=True, text=True).stdout
        has_requests = python_has("requests")
        has_bs4 = python_has("requests", "bs4")
        crawl_ok = subprocess.run([weft, "crawl", "--help"], capture_output=True).returncode == 0
        fetch_cmd = {
            "weft": ([weft, "fetch", "-q", "-j", "100", "--per-host", "0", "--retries", "0",
                      "-i", urls], None),
            "curl": (["curl", "-s", "--parallel", "--parallel-max", "100", "-K", cfg], None)
            if has_curl_par else None,
            "xargs": (["xargs", "-P", "100", "-n", "1", "curl", "-s", "-o", "/dev/null"], urls)
            if have("curl") else None,
            "requests": ([PY, os.path.join(HERE, "py_fetch.py"), urls, "100"], None)
            if has_requests else None,
        }
        crawl_dir = os.path.join(tmp, "wget2")
        # The seeds' WebScraper (bench/seed_scraper.py, from the crawl
        # branch) when present, else this directory's equivalent.
        seed = os.path.exists(os.path.join(HERE, "seed_scraper.py"))
        scraper = [PY, os.path.join(HERE, "seed_scraper.py" if seed else "py_crawl.py")]
        result["meta"]["crawl_peer"] = os.path.basename(scraper[1])
        result["meta"]["server_port"] = srv.port
        def crawl_cmds(j):
            return {
                "weft": ([weft, "crawl", "-q", "-d", "1000", "-j", str(j), base + "/"], None)
                if crawl_ok else None,
                # --tries=1: wget2 1.99 drops the port of protocol-relative
                # links (//host:port/...) and would retry port 80 for minutes.
                # -R: the site's images and style sheet, which the others skip.
                "wget2": (["wget2", "-r", "-l", "inf", f"--max-threads={j}", "--tries=1", "-q",
                           "-R", "*.png,*.css", "-P", crawl_dir, base + "/"], None)
                if have("wget2") else None,
                "bs4": (scraper + [base + "/", str(j), "100000"] + (["threaded"] if seed else []),
                        None) if has_bs4 and j == 100 else None,
            }

        crawl_cmd = crawl_cmds(100)
        timeout = 300

        def run_client(part, c, cmd_stdin):
            """One run of client c: (wall, cpu, rss, pages or None, failed).
            wget2 exits 8 when a server answered an error status (the site's
            error pages), which is not a failed run; its mirror is removed."""
            cmd, stdin_path = cmd_stdin
            stdin = open(stdin_path) if stdin_path else None
            pages_file = None
            if c == "bs4" or c == "weft" and part == "crawl":
                pages_file = os.path.join(tmp, "pages")
            wall, cpu, rss, rc = measure(cmd, timeout, stdin, pages_file)
            if stdin:
                stdin.close()
            pages = count_pages(part, c, rc, crawl_dir, pages_file)
            if part == "crawl" and c == "wget2":
                subprocess.run(["rm", "-rf", crawl_dir])
            return wall, cpu, rss, pages, rc != 0 and not (c == "wget2" and rc == 8)

        for r in range(rounds):
            print(f"tool round {r + 1}/{rounds} ...", file=sys.stderr, flush=True)
            for part, clients, cmds in (("fetch", FETCH_CLIENTS, fetch_cmd),
                                        ("crawl", CRAWL_CLIENTS, crawl_cmd)):
                order = clients[r % len(clients):] + clients[:r % len(clients)]
                for c in order:
                    runs = {k: result[part][f"{part}_{k}"]["runs"][c]
                            for k in ("wall", "cpu", "rss", "pages")}
                    if c == "xargs" and mode == "quick":
                        # A thousand curl processes: ~40 CPU-seconds, 35 s
                        # of wall time a run on 2 cores; one run would be
                        # no median. In the full run only.
                        for v in runs.values():
                            v.append("full only")
                        continue
                    if cmds.get(c) is None:
                        for v in runs.values():
                            v.append("n/a")
                        continue
                    wall, cpu, rss, pages, bad = run_client(part, c, cmds[c])
                    runs["wall"].append("fail" if bad else wall)
                    runs["cpu"].append("fail" if bad else cpu)
                    runs["rss"].append("fail" if bad else rss)
                    runs["pages"].append(pages if pages is not None else "n/a")
            for j in extra_j:
                cmds = crawl_cmds(j)
                order = CRAWL_CLIENTS[r % len(CRAWL_CLIENTS):] + CRAWL_CLIENTS[:r % len(CRAWL_CLIENTS)]
                for c in order:
                    runs = result["crawl"][crawl_key(j)]["runs"][c]
                    if cmds.get(c) is None:
                        runs.append("-" if c == "bs4" else "n/a")
                        continue
                    wall, _cpu, _rss, _pages, bad = run_client("crawl", c, cmds[c])
                    runs.append("fail" if bad else wall)
    except RuntimeError as e:
        print(f"tool: {e}: tool figures n/a", file=sys.stderr)
    finally:
        if srv:
            srv.stop()
        signal.signal(signal.SIGTERM, old)
        subprocess.run(["rm", "-rf", tmp])


def count_pages(part, client, rc, crawl_dir, pages_file):
    if part == "fetch":
        return 1000.0 if rc == 0 else None
    if client == "wget2":
        n = 0
        for _root, _dirs, files in os.walk(crawl_dir):
            n += sum(1 for f in files if f != "robots.txt")
        return float(n)
    try:
        text = open(pages_file).read()
    except OSError:
        return None
    if client == "bs4":
        # seed_scraper.py: "Threaded: 2.31s, 1001 pages"; py_crawl.py: "1001"
        for line in text.splitlines()[::-1]:
            words = line.replace(",", " ").split()
            try:
                if line.startswith("Threaded:"):
                    return float(words[2])
                if len(words) == 1:
                    return float(words[0])
            except (ValueError, IndexError):
                pass
        return None
    # weft crawl -q: "Crawled: N pages (K ok, F failed) ..."
    for line in text.splitlines():
        if line.startswith("Crawled:"):
            try:
                return float(line.split("(")[1].split()[0])
            except (IndexError, ValueError):
                return None
    return None


if __name__ == "__main__":
    sys.exit(main())
