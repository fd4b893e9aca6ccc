-- wrk script: cycle through the tile paths in $URLS (one path per line, with the filter's query string).
-- MODE=warm: the same URLs over and over (tile cache hits after the first round).
-- MODE=cold: every round through the tiles gets a filter period never asked before, so every request misses
--   the tile cache (the counts per filter are computed once per round, as when a user changes the filter).
-- MODE=unique: every single request gets a new filter period (tile and count caches both miss: worst case).
local paths = {}
for line in io.lines(os.getenv("URLS")) do
  paths[#paths + 1] = line
end
local mode = os.getenv("MODE") or "warm"
-- OFFSET (optional): where this run starts in the sequence of periods, so consecutive runs ask different ones.
local offset = tonumber(os.getenv("OFFSET") or "0")
-- TOKEN (optional): an API token sent as `Authorization: Bearer` with every request.
local token = os.getenv("TOKEN")
local counter = 0
thread_id = 0
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local function day(n)
  -- A date n days after 2023-01-01 (n < 1400), as YYYY-MM-DD, via os.time normalisation.
  return os.date("!%Y-%m-%d", os.time({year = 2023, month = 1, day = 1 + n, hour = 12}))
end

function request()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  if mode == "cold" or mode == "unique" then
    -- A (from, to) pair per round (cold) or per request (unique), distinct between threads: from in 0..699,
    -- to in 700..1399 days after 2023-01-01 (490,000 pairs before they repeat).
    local step = counter
    if mode == "cold" then
      step = math.floor(counter / #paths)
    end
    local k = step * 4 + thread_id + offset
    local from = k % 700
    local to = 700 + (math.floor(k / 700) % 700)
    path = path .. "&from=" .. day(from) .. "&to=" .. day(to)
  end
  local headers = {["Accept-Encoding"] = "gzip"}
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  return wrk.format("GET", path, headers)
end
