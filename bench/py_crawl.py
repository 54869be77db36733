#!/usr/bin/env python3
"""bench/py_crawl.py: the Python crawler the seeds describe (requests +
BeautifulSoup + ThreadPoolExecutor), as the peer of `weft crawl`:
breadth-first from URL, same host and port, obeying robots.txt, one
requests.Session per worker thread (keep-alive).

    python3 bench/py_crawl.py URL [workers] [max_pages]

Prints the number of pages fetched on stdout. Exit status 1 when a page
failed. Level-synchronous, like weft crawl: every page of depth d is fetched
before any of depth d + 1."""

import sys
import threading
import urllib.robotparser
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
from bs4 import BeautifulSoup

local = threading.local()


def session():
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
    return s


def fetch(url):
    r = session().get(url, timeout=30)
    links = []
    if r.ok and "html" in r.headers.get("content-type", ""):
        soup = BeautifulSoup(r.text, "html.parser")
        title = soup.title.string if soup.title else ""
        words = len(soup.get_text(" ").split())
        for a in soup.find_all("a", href=True):
            links.append(urldefrag(urljoin(url, a["href"]))[0])
        return r.status_code, title, words, links
    return r.status_code, "", 0, links


def main():
    start = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    max_pages = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 30
    origin = urlsplit(start)
    robots = urllib.robotparser.RobotFileParser(f"{origin.scheme}://{origin.netloc}/robots.txt")
    robots.read()
    seen = {start}
    level = [start]
    pages = failed = 0
    with ThreadPoolExecutor(max_workers=workers) as ex:
        while level and pages < max_pages:
            level = level[: max_pages - pages]
            nxt = []
            for url, res in zip(level, ex.map(fetch, level)):
                status, _title, _words, links = res
                pages += 1
                failed += status >= 400
                for link in links:
                    u = urlsplit(link)
                    if u.scheme not in ("http", "https") or u.netloc != origin.netloc:
                        continue
                    if link in seen or not robots.can_fetch("*", link):
                        continue
                    seen.add(link)
                    nxt.append(link)
            level = nxt
    print(pages)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
