-- One wrk script for every web figure of bench/run.py. Environment:
--   BENCH_PATHS   file with one path per line (requests take them in turn)
--   BENCH_BODIES  optional file with one urlencoded body per line (POST; taken in turn)
--   BENCH_METHOD  GET (default) or POST
--   BENCH_COOKIE  Cookie header (session + csrftoken); BENCH_CSRF the X-CSRFToken header
--   BENCH_XFF     "1": every request comes from its own client address (X-Forwarded-For; the
--                 bench server trusts one proxy), so per-address throttles meet distinct staff.
--   BENCH_HEADERS optional file, one line per path: extra headers "Name: value" separated by tabs
--                 (signed device requests: each line's nonce is used once)
local paths, bodies, extra = {}, {}, {}
local method, cookie, csrf, xff = "GET", nil, nil, false
local n = 0

local function lines(file, into)
  for line in io.lines(file) do
    if line ~= "" then table.insert(into, line) end
  end
end

function init(args)
  lines(os.getenv("BENCH_PATHS"), paths)
  local b = os.getenv("BENCH_BODIES")
  if b and b ~= "" then lines(b, bodies) end
  local h = os.getenv("BENCH_HEADERS")
  if h and h ~= "" then
    for line in io.lines(h) do
      local t = {}
      for name, value in string.gmatch(line, "([^\t:]+): ([^\t]*)") do t[name] = value end
      table.insert(extra, t)
    end
  end
  method = os.getenv("BENCH_METHOD") or "GET"
  cookie = os.getenv("BENCH_COOKIE")
  csrf = os.getenv("BENCH_CSRF")
  xff = os.getenv("BENCH_XFF") == "1"
  -- threads start at different offsets so they do not send the same rows together
  n = (#extra > 0) and 0 or math.random(0, 1000)
end

function request()
  n = n + 1
  local headers = {}
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  if csrf and csrf ~= "" then headers["X-CSRFToken"] = csrf end
  if xff then
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  end
  if #extra > 0 then
    for name, value in pairs(extra[(n % #extra) + 1]) do headers[name] = value end
  end
  local body = nil
  if #bodies > 0 then
    body = bodies[(n % #bodies) + 1]
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return wrk.format(method, paths[(n % #paths) + 1], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
