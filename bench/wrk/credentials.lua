-- wrk script: requests carrying tokens from a bench-seed credentials file.
--
--   wrk ... -s bench/wrk/credentials.lua URL -- FILE KIND SCHEME COUNT
--   wrk ... -s bench/wrk/credentials.lua URL -- none      (no Authorization header)
--
--   FILE    credentials file written by bench-seed ("KIND USER TOKEN" lines)
--   KIND    which lines to use: valid, unknown, badsum, noperm, ...
--   SCHEME  bearer | basic (Basic sends "USER:TOKEN")
--   COUNT   how many distinct credentials of that kind to rotate through:
--           1 is one hot token; 10000 sends 10,000 distinct tokens in turn,
--           so that the lookups do not all hit one cache line
--
-- Every request is built once in init(); request() only hands the next one
-- out, so the script adds almost nothing to wrk's own cost per request.
-- done() prints one line "WRK_RESULT {json}" for bench/run_bench.py.

local requests = {}
local next_index = 0

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
      .. (b and b64chars:sub(c3 + 1, c3 + 1) or "=")
      .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

function init(args)
  if args[1] == "none" then
    requests[1] = wrk.format(nil, nil, {})
    return
  end
  local file, kind, scheme, count = args[1], args[2], args[3], tonumber(args[4] or "1")
  if not (file and kind and (scheme == "bearer" or scheme == "basic") and count and count >= 1) then
    error("usage: -- FILE KIND bearer|basic COUNT")
  end
  local handle = assert(io.open(file, "r"))
  for line in handle:lines() do
    local k, user, token = line:match("^(%S+) (%S+) (%S+)$")
    if k == kind then
      local authorization
      if scheme == "bearer" then
        authorization = "Bearer " .. token
      else
        authorization = "Basic " .. base64(user .. ":" .. token)
      end
      requests[#requests + 1] = wrk.format(nil, nil, { ["Authorization"] = authorization })
      if #requests >= count then break end
    end
  end
  handle:close()
  if #requests < count then
    error(string.format("%s has %d \"%s\" credentials, %d were asked for", file, #requests, kind, count))
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
