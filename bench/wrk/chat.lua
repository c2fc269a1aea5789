-- wrk script of the gateway benchmarks (bench/_load.py): POST one JSON body with fixed
-- headers on every request, then write a JSON report with latency percentiles.
--
-- Configured through environment variables:
--   BENCH_WRK_BODY     file holding the request body
--   BENCH_WRK_HEADERS  file of "Name: value" lines
--   BENCH_WRK_REPORT   file the report is written to

local function slurp(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_WRK_BODY"))
for line in slurp(os.getenv("BENCH_WRK_HEADERS")):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local errors = summary.errors
  local out = assert(io.open(os.getenv("BENCH_WRK_REPORT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ',
    summary.requests, summary.duration, summary.bytes))
  out:write(string.format(
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ',
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
  out:write(string.format(
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d}}\n',
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
  out:close()
end
