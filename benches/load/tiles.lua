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
  -- A date n days after 2023-01-01 (n < 700), as YYYY-MM-DD, via os.time normalisation.
  return os.date("!%Y-%m-%d", os.time({year = 2023, month = 1, day = 1 + n, hour = 12}))
end

function request()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  if mode == "cold" or mode == "unique" then
    -- A (from, to) pair per round (cold) or per request (unique), distinct between threads: from in 0..349,
    -- to in 350..699 days after 2023-01-01.
    local step = counter
    if mode == "cold" then
      step = math.floor(counter / #paths)
    end
    local k = step * 4 + thread_id
    local from = k % 350
    local to = 350 + (math.floor(k / 350) % 350)
    path = path .. "&from=" .. day(from) .. "&to=" .. day(to)
  end
  local headers = {["Accept-Encoding"] = "gzip"}
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  return wrk.format("GET", path, headers)
end
