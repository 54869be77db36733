/* frontier-redis-lua.h: the Lua scripts of the Redis frontier, one per verb,
 * each atomic on the server (see frontier-redis.c for the key layout). Every
 * script gets KEYS[1] = the crawl's key prefix; the prelude is shared.
 *
 * Seen set: P.."s:"..first 4 hex digits of the URL's hash (65,536 small
 * hashes, each kept as a listpack by Redis while under 512 entries, i.e.
 * up to ~30M URLs: hash-max-listpack-entries), field = the other 12 hex digits, value =
 * "depth,state" or "depth,state,parent hash". States: 0 queued, 1 leased, 2 done, 3 held back
 * (beyond --depth), 4 seen only (skipped). */
#ifndef WEFT_TOOL_FRONTIER_REDIS_LUA_H
#define WEFT_TOOL_FRONTIER_REDIS_LUA_H

#define REDIS_LUA_PRELUDE                                                                          \
    "local P = KEYS[1]\n"                                                                          \
    "local function now_ms() local t = redis.call('TIME')\n"                                       \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end\n"                     \
    "local function cnt(f) return tonumber(redis.call('HGET', P .. 'c', f) or '0') end\n"          \
    "local function incr(f, n) return redis.call('HINCRBY', P .. 'c', f, n) end\n"                 \
    "local function seen_get(h)\n"                                                                 \
    "  local v = redis.call('HGET', P .. 's:' .. string.sub(h, 1, 4), string.sub(h, 5))\n"         \
    "  if not v then return nil end\n"                                                             \
    "  local d, s, p = string.match(v, '^(%d+),(%d+),?(%x*)$')\n"                                  \
    "  return tonumber(d), tonumber(s), p end\n"                                                   \
    "local function seen_set(h, d, s, p)\n"                                                        \
    "  local v = d .. ',' .. s\n"                                                                  \
    "  if p and p ~= '' then v = v .. ',' .. p end\n"                                              \
    "  if redis.call('HSET', P .. 's:' .. string.sub(h, 1, 4), string.sub(h, 5), v) == 1 then\n"   \
    "    incr('ns', 1) end end\n"                                                                  \
    "local function alive() return redis.call('HGET', P .. 'meta', 'format') == 'weft-crawl' "     \
    "end\n"                                                                                        \
    "local function split(e) local t = {}\n"                                                       \
    "  for f in string.gmatch(e .. '\\t', '([^\\t]*)\\t') do t[#t + 1] = f end\n"                  \
    "  return t end\n"                                                                             \
    "local function entry(h, att, url, par) return h .. '\\t' .. att .. '\\t' .. url .. '\\t' .. " \
    "par end\n"                                                                                    \
    "local function pack(fields) local t = {}\n"                                                   \
    "  for i, f in ipairs(fields) do f = tostring(f); t[i] = #f .. ':' .. f end\n"                 \
    "  return table.concat(t) end\n"                                                               \
    "local function skip_record(reason, url, par, depth)\n"                                        \
    "  redis.call('RPUSH', P .. 'rec', pack({reason, url, par, depth})) end\n"                     \
    "local function host_id(origin, robots_on, delay)\n"                                           \
    "  local id = redis.call('HGET', P .. 'H', origin)\n"                                          \
    "  if id then return id end\n"                                                                 \
    "  id = incr('hseq', 1)\n"                                                                     \
    "  redis.call('HSET', P .. 'H', origin, id)\n"                                                 \
    "  redis.call('HSET', P .. 'h:' .. id, 'o', origin, 'rs', robots_on and 0 or 2,\n"             \
    "    'rexp', robots_on and 0 or 9e15, 'act', 0, 'nx', 0, 'dl', delay)\n"                       \
    "  redis.call('SADD', P .. 'hs', id)\n"                                                        \
    "  return tostring(id) end\n" /* A lease that ends without its verb (the process died): its    \
                                   * URL goes back to the head of its host's queue. */             \
    "local function reclaim(tok)\n"                                                                \
    "  local data = redis.call('HGET', P .. 'ld', tok)\n"                                          \
    "  redis.call('HDEL', P .. 'ld', tok); redis.call('HDEL', P .. 'ar', tok)\n"                   \
    "  redis.call('ZREM', P .. 'L', tok)\n"                                                        \
    "  if not data then return end\n"                                                              \
    "  local f = split(data)\n"                                                                    \
    "  local hk = P .. 'h:' .. f[2]\n"                                                             \
    "  redis.call('HINCRBY', hk, 'act', -1)\n"                                                     \
    "  if f[1] == 'r' then redis.call('HSET', hk, 'rs', 0); incr('rb', -1); return end\n"          \
    "  local d = tonumber(f[3])\n"                                                                 \
    "  incr('f' .. d, -1); incr('st', -1)\n"                                                       \
    "  local sd, ss, sp = seen_get(f[4])\n"                                                        \
    "  if ss == 1 then\n"                                                                          \
    "    seen_set(f[4], sd, 0, sp)\n"                                                              \
    "    redis.call('LPUSH', P .. 'q:' .. f[2] .. ':' .. d, entry(f[4], f[5], f[6], f[7]))\n"      \
    "    incr('q' .. d, 1)\n"                                                                      \
    "  end end\n"

/* ARGV: options as name, value pairs. Returns {"new"}, {"join"},
 * {"finished"}, {"differs", name, stored}, {"foreign", why}. */
#define REDIS_LUA_INIT                                                                             \
    REDIS_LUA_PRELUDE                                                                              \
    "local t = redis.call('TYPE', P .. 'meta')['ok']\n"                                            \
    "if t == 'none' then\n"                                                                        \
    "  if redis.call('EXISTS', P .. 'c', P .. 'rec', P .. 'H') > 0 then\n"                         \
    "    return {'foreign', 'keys without a weft crawl description'} end\n"                        \
    "  redis.call('HSET', P .. 'meta', 'format', 'weft-crawl', 'schema', 1, 'finished', 0)\n"      \
    "  for i = 1, #ARGV, 2 do redis.call('HSET', P .. 'meta', 'opt' .. ARGV[i], ARGV[i + 1]) "     \
    "end\n"                                                                                        \
    "  return {'new'} end\n"                                                                       \
    "if t ~= 'hash' or redis.call('HGET', P .. 'meta', 'format') ~= 'weft-crawl' then\n"           \
    "  return {'foreign', 'not a weft crawl'} end\n"                                               \
    "local schema = tonumber(redis.call('HGET', P .. 'meta', 'schema') or '0')\n"                  \
    "if schema ~= 1 then return {'foreign', 'state schema ' .. schema .. ' (this weft reads 1)'} " \
    "end\n"                                                                                        \
    "for i = 1, #ARGV, 2 do\n"                                                                     \
    "  local v = redis.call('HGET', P .. 'meta', 'opt' .. ARGV[i]) or ''\n"                        \
    "  if v ~= ARGV[i + 1] then return {'differs', ARGV[i], v} end end\n"                          \
    "if redis.call('HGET', P .. 'meta', 'finished') == '1' then return {'finished'} end\n"         \
    "return {'join'}\n"

/* NEXT as a Lua function of its five arguments (next_item), for NEXT and
 * for DONE_NEXT. A token that already holds a lease means this call is a
 * retry of one whose answer was lost (Redis went down after running it):
 * the same item is handed out again. Leasing another under the token
 * would orphan the first, counted in flight forever, and the crawl would
 * never end. */
#define REDIS_LUA_NEXT_FN                                                                          \
    "local function next_item(a1, a2, a3, a4, a5)\n"                                               \
    "if not alive() then return {'lost'} end\n"                                                    \
    "local per_host, max_pages, lease_ms = tonumber(a1), tonumber(a2), "                           \
    "tonumber(a3)\n"                                                                               \
    "local token, robots_on = a4, a5 == '1'\n"                                                     \
    "local held = redis.call('HGET', P .. 'ld', token)\n"                                          \
    "if held then\n"                                                                               \
    "  local f = split(held)\n"                                                                    \
    "  local o = redis.call('HGET', P .. 'h:' .. f[2], 'o')\n"                                     \
    "  if f[1] == 'r' then return {'robots', o, f[2], token} end\n"                                \
    "  return {'page', f[6], f[7], tonumber(f[3]), f[5], f[2], o, token} end\n"                    \
    "if redis.call('HGET', P .. 'meta', 'finished') == '1' then return {'done'} end\n"             \
    "local now = now_ms()\n"                                                                       \
    "for _, tok in ipairs(redis.call('ZRANGEBYSCORE', P .. 'L', '-inf', now, 'LIMIT', 0, 64)) "    \
    "do\n"                                                                                         \
    "  reclaim(tok) end\n"                                                                         \
    "local function live(d) return cnt('q' .. d) + cnt('f' .. d) end\n"                            \
    "local cur = cnt('cur')\n"                                                                     \
    "while live(cur) == 0 and (live(cur + 1) > 0 or live(cur + 2) > 0) do cur = cur + 1 end\n"     \
    "redis.call('HSET', P .. 'c', 'cur', cur)\n"                                                   \
    "local wake = now + 100\n"                                                                     \
    "local hosts = redis.call('SMEMBERS', P .. 'hs')\n"                                            \
    "for level = cur, cur + 1 do\n"                                                                \
    " if cnt('q' .. level) > 0 then\n"                                                             \
    "  for _, id in ipairs(hosts) do\n"                                                            \
    "   local hk, qk = P .. 'h:' .. id, P .. 'q:' .. id .. ':' .. level\n"                         \
    "   local e, f\n"                                                                              \
    "   while true do\n"                                                                           \
    "     e = redis.call('LINDEX', qk, 0)\n"                                                       \
    "     if not e then break end\n"                                                               \
    "     f = split(e)\n"                                                                          \
    "     local sd, ss = seen_get(f[1])\n"                                                         \
    "     if sd == level and ss == 0 then break end\n"                                             \
    "     redis.call('LPOP', qk); e = nil end\n"                                                   \
    "   if e then\n"                                                                               \
    "    local hv = redis.call('HMGET', hk, 'rs', 'rexp', 'act', 'nx', 'dl', 'o')\n"               \
    "    local rs, rexp, act = tonumber(hv[1]), tonumber(hv[2]), tonumber(hv[3])\n"                \
    "    local nx, dl, o = tonumber(hv[4]), tonumber(hv[5]), hv[6]\n"                              \
    "    if rs == 1 then\n"                                                                        \
    "    elseif per_host > 0 and act >= per_host then\n"                                           \
    "    elseif now < nx then if nx < wake then wake = nx end\n"                                   \
    "    elseif robots_on and (rs == 0 or rexp <= now) then\n"                                     \
    "      redis.call('HSET', hk, 'rs', 1, 'act', act + 1)\n"                                      \
    "      incr('rb', 1)\n"                                                                        \
    "      redis.call('ZADD', P .. 'L', now + lease_ms, token)\n"                                  \
    "      redis.call('HSET', P .. 'ld', token, 'r\\t' .. id)\n"                                   \
    "      return {'robots', o, id, token}\n"                                                      \
    "    else\n"                                                                                   \
    "      redis.call('LPOP', qk)\n"                                                               \
    "      incr('q' .. level, -1)\n"                                                               \
    "      local sd, ss, sp = seen_get(f[1])\n"                                                    \
    "      if max_pages > 0 and cnt('st') >= max_pages then\n"                                     \
    "        seen_set(f[1], level, 4, sp)\n"                                                       \
    "        skip_record('limit', f[3], f[4], level)\n"                                            \
    "        return {'skip', 'limit', f[3], f[4], level, id, o} end\n"                             \
    "      incr('st', 1); incr('f' .. level, 1)\n"                                                 \
    "      redis.call('HSET', hk, 'act', act + 1, 'nx', now + dl)\n"                               \
    "      seen_set(f[1], level, 1, sp)\n"                                                         \
    "      redis.call('ZADD', P .. 'L', now + lease_ms, token)\n"                                  \
    "      redis.call('HSET', P .. 'ld', token, table.concat({'p', id, level, f[1], f[2], f[3], "  \
    "f[4]}, '\\t'))\n"                                                                             \
    "      redis.call('HSET', P .. 'pg', f[1], f[3])\n"                                            \
    "      return {'page', f[3], f[4], level, f[2], id, o, token}\n"                               \
    "    end end end end end\n"                                                                    \
    "if live(cur) + live(cur + 1) + live(cur + 2) == 0 and cnt('rb') == 0 and\n"                   \
    "   redis.call('ZCARD', P .. 'L') == 0 then\n"                                                 \
    "  if cnt('ns') == 0 then return {'seed'} end\n" /* the seeds were lost (an older save) */     \
    "  while true do\n"                                                                            \
    "    local e = redis.call('LPOP', P .. 'held')\n"                                              \
    "    if not e then break end\n"                                                                \
    "    local f = split(e)\n"                                                                     \
    "    local sd, ss, sp = seen_get(f[1])\n"                                                      \
    "    if sd == tonumber(f[3]) and ss == 3 then\n"                                               \
    "      seen_set(f[1], sd, 4, sp); incr('held', -1)\n"                                          \
    "      skip_record('depth', f[4], f[5], sd)\n"                                                 \
    "      return {'skip', 'depth', f[4], f[5], sd, f[2], redis.call('HGET', P .. 'h:' .. f[2], "  \
    "'o')} end end\n"                                                                              \
    "  redis.call('HSET', P .. 'meta', 'finished', 1)\n"                                           \
    "  return {'done'} end\n"                                                                      \
    "local w = wake - now\n"                                                                       \
    "if w < 1 then w = 1 end\n"                                                                    \
    "if w > 100 then w = 100 end\n"                                                                \
    "return {'wait', w}\n"                                                                         \
    "end\n"

/* ARGV: per_host, max_pages, lease_ms, token, robots (1/0). Returns
 * {"page", url, parent, depth, attempt, host id, origin, token},
 * {"robots", origin, host id, token}, {"skip", reason, url, parent, depth,
 * host id, origin}, {"wait", ms}, {"done"}, or {"seed"}: nothing was ever
 * queued (Redis lost the seeds with the writes after its last save), so
 * the caller seeds again. */
#define REDIS_LUA_NEXT                                                                             \
    REDIS_LUA_PRELUDE REDIS_LUA_NEXT_FN                                                            \
        "return next_item(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])\n"

/* ARGV: parent depth (-1: seeds), parent url, parent hash, max_depth,
 * max_pages, robots (1/0), delay_ms, call ("" or the page's lease token
 * and a call number), then per link: hash, url, origin, pre. Returns per
 * link: result, lowered (0/1), dup parent, dup depth. The answer is kept
 * under the token ('ar') until the page ends, and a call sent again after
 * its answer was lost gets it back unchanged: run twice, the links it
 * queued would otherwise come back as duplicates. Calls are numbered
 * 1, 2, ... per lease; one that finds the call before it missing (Redis
 * lost it with the writes after its last save, or the lease ended) is
 * kept marked ("x<n>|answer"), and DONE then sends the page back to be
 * fetched again. */
#define REDIS_LUA_ADD                                                                              \
    REDIS_LUA_PRELUDE                                                                              \
    "if not alive() then return {'lost'} end\n"                                                    \
    "local cd = tonumber(ARGV[1]) + 1\n"                                                           \
    "local par, parh = ARGV[2], ARGV[3]\n"                                                         \
    "local max_depth, max_pages = tonumber(ARGV[4]), tonumber(ARGV[5])\n"                          \
    "local robots_on, delay = ARGV[6] == '1', tonumber(ARGV[7])\n"                                 \
    "local tok, call = string.match(ARGV[8], '^(.*):(%d+)$')\n"                                    \
    "local mark = call\n"                                                                          \
    "if tok then\n"                                                                                \
    "  local kept = redis.call('HGET', P .. 'ar', tok)\n"                                          \
    "  local x, n, ans\n"                                                                          \
    "  if kept then x, n, ans = string.match(kept, '^(x?)(%d+)|(.*)$') end\n"                      \
    "  if n == call then return cjson.decode(ans) end\n"                                           \
    "  if not (x == '' and tonumber(n) + 1 == tonumber(call)) and not (call == '1' and not kept) " \
    "then\n"                                                                                       \
    "    mark = 'x' .. call end end\n" /* an earlier call is not in: DONE will refuse the page */  \
    "local out = {}\n"                                                                             \
    "for i = 9, #ARGV, 4 do\n"                                                                     \
    "  local h, url, origin, pre = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])\n"     \
    "  local sd, ss, sp = seen_get(h)\n"                                                           \
    "  local res, low, dp, dd = 0, 0, '', 0\n"                                                     \
    "  if sd then\n"                                                                               \
    "    res = 4\n"                                                                                \
    "    if (ss == 0 or ss == 3) and sd > cd and cd <= max_depth and origin ~= '' then\n"          \
    "      local id = host_id(origin, robots_on, delay)\n"                                         \
    "      if ss == 0 then incr('q' .. sd, -1) else incr('held', -1); incr('acc', 1) end\n"        \
    "      if sp ~= '' then dp = redis.call('HGET', P .. 'pg', sp) or '' end\n"                    \
    "      seen_set(h, cd, 0, parh)\n"                                                             \
    "      redis.call('RPUSH', P .. 'q:' .. id .. ':' .. cd, entry(h, 0, url, par))\n"             \
    "      incr('q' .. cd, 1)\n"                                                                   \
    "      res, low, dd = 0, 1, sd end\n"                                                          \
    "  elseif pre ~= 0 then seen_set(h, cd, 4, ''); res = pre\n"                                   \
    "  else\n"                                                                                     \
    "    local id = host_id(origin, robots_on, delay)\n"                                           \
    "    if cd > max_depth then\n"                                                                 \
    "      seen_set(h, cd, 3, parh)\n"                                                             \
    "      redis.call('RPUSH', P .. 'held', table.concat({h, id, cd, url, par}, '\\t'))\n"         \
    "      incr('held', 1)\n"                                                                      \
    "    elseif max_pages > 0 and cnt('acc') >= max_pages then seen_set(h, cd, 4, ''); res = 5\n"  \
    "    else\n"                                                                                   \
    "      seen_set(h, cd, 0, parh)\n"                                                             \
    "      redis.call('RPUSH', P .. 'q:' .. id .. ':' .. cd, entry(h, 0, url, par))\n"             \
    "      incr('q' .. cd, 1); incr('acc', 1) end end\n"                                           \
    "  out[#out + 1] = res; out[#out + 1] = low; out[#out + 1] = dp; out[#out + 1] = dd end\n"     \
    "if tok then redis.call('HSET', P .. 'ar', tok, mark .. '|' .. cjson.encode(out)) end\n"       \
    "return out\n"

/* The page's links must be in: the number of ADD calls the client made
 * under the token is the one its last kept answer says. A Redis that went
 * back to an older save (a restart without AOF, a failover) can keep a
 * page's lease, or its end, and have lost its links: finished, the page
 * would take them with it, and the pages only it linked would be missing
 * or found deeper. It is fetched again instead ('again'). */
#define REDIS_LUA_DONE_FN                                                                          \
    "local function done_item(o)\n"                                                                \
    "if not alive() then return 'lost' end\n"                                                      \
    "local tok, h, nc, adds = ARGV[o + 1], ARGV[o + 2], tonumber(ARGV[o + 3]), ARGV[o + 4]\n"      \
    "if adds ~= '0' then\n"                                                                        \
    "  local kept = redis.call('HGET', P .. 'ar', tok)\n"                                          \
    "  if not kept or string.match(kept, '^(%d+)|') ~= adds then\n"                                \
    "    reclaim(tok)\n"                                                                           \
    "    local _, ss = seen_get(h)\n"                                                              \
    "    if ss == 2 then return 'dup' end\n" /* finished already (a DONE sent again) */            \
    "    return 'again' end end\n"                                                                 \
    "local data = redis.call('HGET', P .. 'ld', tok)\n"                                            \
    "redis.call('HDEL', P .. 'ar', tok)\n"                                                         \
    "if data then\n"                                                                               \
    "  local f = split(data)\n"                                                                    \
    "  redis.call('HDEL', P .. 'ld', tok); redis.call('ZREM', P .. 'L', tok)\n"                    \
    "  redis.call('HINCRBY', P .. 'h:' .. f[2], 'act', -1); incr('f' .. f[3], -1) end\n"           \
    "local sd, ss, sp = seen_get(h)\n"                                                             \
    "if not sd or ss == 2 then return 'dup' end\n"                                                 \
    "if not data and ss == 0 then incr('q' .. sd, -1); incr('st', 1) end\n"                        \
    "seen_set(h, sd, 2, sp)\n"                                                                     \
    "for i = o + 5, o + 4 + 2 * nc, 2 do\n"                                                        \
    "  if not seen_get(ARGV[i]) then seen_set(ARGV[i], tonumber(ARGV[i + 1]), 4, '') end end\n"    \
    "for i = o + 5 + 2 * nc, #ARGV do redis.call('RPUSH', P .. 'rec', ARGV[i]) end\n"              \
    "return 'ok' end\n"

/* ARGV: token, hash, number of claims, number of ADD calls made under the
 * token, claims (hash, depth)..., records. Returns "ok", "dup" (another
 * process finished the page first: the records were dropped) or "again"
 * (its links were lost: the page goes back to its queue, records
 * dropped). */
#define REDIS_LUA_DONE REDIS_LUA_PRELUDE REDIS_LUA_DONE_FN "return done_item(0)\n"

/* DONE, then NEXT for the same worker, in one round trip: ARGV: NEXT's five,
 * then DONE's. Returns DONE's answer followed by NEXT's. */
#define REDIS_LUA_DONE_NEXT                                                                        \
    REDIS_LUA_PRELUDE REDIS_LUA_DONE_FN REDIS_LUA_NEXT_FN                                          \
        "local st = done_item(5)\n"                                                                \
        "local r = next_item(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])\n"                       \
        "table.insert(r, 1, st)\n"                                                                 \
        "return r\n"

/* ARGV: token, hash, attempt, pause_ms. A retry or a give-back: the URL
 * goes back to the head of its host's queue. */
#define REDIS_LUA_REQUEUE                                                                          \
    REDIS_LUA_PRELUDE                                                                              \
    "if not alive() then return 'lost' end\n"                                                      \
    "local tok, h, att, pause = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"                    \
    "local data = redis.call('HGET', P .. 'ld', tok)\n"                                            \
    "if not data then return 'gone' end\n"                                                         \
    "local f = split(data)\n"                                                                      \
    "redis.call('HDEL', P .. 'ld', tok); redis.call('HDEL', P .. 'ar', tok); redis.call('ZREM', "  \
    "P .. 'L', tok)\n"                                                                             \
    "local hk, d = P .. 'h:' .. f[2], tonumber(f[3])\n"                                            \
    "redis.call('HINCRBY', hk, 'act', -1); incr('f' .. d, -1); incr('st', -1)\n"                   \
    "local sd, ss, sp = seen_get(h)\n"                                                             \
    "if ss == 1 then\n"                                                                            \
    "  seen_set(h, sd, 0, sp)\n"                                                                   \
    "  redis.call('LPUSH', P .. 'q:' .. f[2] .. ':' .. d, entry(h, att, f[6], f[7]))\n"            \
    "  incr('q' .. d, 1) end\n"                                                                    \
    "if pause > 0 then\n"                                                                          \
    "  local until_ms = now_ms() + pause\n"                                                        \
    "  if until_ms > tonumber(redis.call('HGET', hk, 'nx') or '0') then\n"                         \
    "    redis.call('HSET', hk, 'nx', until_ms) end end\n"                                         \
    "return 'ok'\n"

/* ARGV: token, hash, record. A handed-out page its host's robots.txt
 * disallows (the rules live in the client): skipped, its lease released. */
#define REDIS_LUA_SKIP                                                                             \
    REDIS_LUA_PRELUDE                                                                              \
    "if not alive() then return 'lost' end\n"                                                      \
    "local tok, h = ARGV[1], ARGV[2]\n"                                                            \
    "local data = redis.call('HGET', P .. 'ld', tok)\n"                                            \
    "if not data then return 'gone' end\n"                                                         \
    "local f = split(data)\n"                                                                      \
    "redis.call('HDEL', P .. 'ld', tok); redis.call('HDEL', P .. 'ar', tok); redis.call('ZREM', "  \
    "P .. 'L', tok)\n"                                                                             \
    "redis.call('HINCRBY', P .. 'h:' .. f[2], 'act', -1)\n"                                        \
    "incr('f' .. f[3], -1); incr('st', -1); incr('acc', -1)\n"                                     \
    "local sd, ss, sp = seen_get(h)\n"                                                             \
    "if ss == 1 then seen_set(h, sd, 4, sp); redis.call('RPUSH', P .. 'rec', ARGV[3]) end\n"       \
    "return 'ok'\n"

/* ARGV: token, host id, status, body, crawl delay ms. */
#define REDIS_LUA_ROBOTS                                                                           \
    REDIS_LUA_PRELUDE                                                                              \
    "if not alive() then return 'lost' end\n"                                                      \
    "local tok, id = ARGV[1], ARGV[2]\n"                                                           \
    "local hk = P .. 'h:' .. id\n"                                                                 \
    "if redis.call('HGET', P .. 'ld', tok) then\n"                                                 \
    "  redis.call('HDEL', P .. 'ld', tok); redis.call('HDEL', P .. 'ar', tok); "                   \
    "redis.call('ZREM', P .. 'L', tok)\n"                                                          \
    "  redis.call('HINCRBY', hk, 'act', -1); incr('rb', -1) end\n"                                 \
    "local now = now_ms()\n" /* RFC 9309 2.4: cached for at most 24 hours. */                      \
    "redis.call('HSET', hk, 'rs', 2, 'rexp', now + 86400000, 'rst', ARGV[3], 'rb', ARGV[4])\n"     \
    "local dl = tonumber(redis.call('HGET', hk, 'dl') or '0')\n"                                   \
    "if tonumber(ARGV[5]) > dl then dl = tonumber(ARGV[5]); redis.call('HSET', hk, 'dl', dl) "     \
    "end\n"                                                                                        \
    "if dl > 0 and now + dl > tonumber(redis.call('HGET', hk, 'nx') or '0') then\n"                \
    "  redis.call('HSET', hk, 'nx', now + dl) end\n"                                               \
    "return 'ok'\n"

/* ARGV: lease_ms, tokens... Extends this process's live leases. */
#define REDIS_LUA_RENEW                                                                            \
    REDIS_LUA_PRELUDE                                                                              \
    "if not alive() then return 'lost' end\n"                                                      \
    "local until_ms = now_ms() + tonumber(ARGV[1])\n"                                              \
    "local n = 0\n"                                                                                \
    "for i = 2, #ARGV do\n"                                                                        \
    "  if redis.call('ZSCORE', P .. 'L', ARGV[i]) then\n"                                          \
    "    redis.call('ZADD', P .. 'L', 'XX', until_ms, ARGV[i]); n = n + 1 end end\n"               \
    "return n\n"

#endif
