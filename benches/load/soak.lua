-- wrk script of the soak test (benches/soak.sh): cycles through the request lines of $REQUESTS, one per line:
--   AUTH METHOD PATH
-- AUTH is `T` (send `Authorization: Bearer $TOKEN`) or `-` (anonymous caller of the public tenant); METHOD is GET
-- or POST (POST sends the JSON body of the file $BODY). Threads start at different offsets so the mix is the
-- same in every thread.
local lines = {}
for line in io.lines(os.getenv("REQUESTS")) do
  local auth, method, path = line:match("^(%S+)%s+(%S+)%s+(%S+)$")
  if auth then
    lines[#lines + 1] = {auth = auth, method = method, path = path}
  end
end
local token = os.getenv("TOKEN") or ""
local body = ""
local body_file = os.getenv("BODY")
if body_file then
  local f = io.open(body_file, "r")
  if f then
    body = f:read("*a")
    f:close()
  end
end
-- ROTATE (optional, comma-separated values): `@ROTATE@` in a path is replaced by the value of the current round
-- through the lines (round r uses value r modulo their number), so those requests ask a new filter every round.
local rotate = {}
for v in string.gmatch(os.getenv("ROTATE") or "", "[^,]+") do
  rotate[#rotate + 1] = v
end
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("counter", next_id * 7919)
  next_id = next_id + 1
end

function request()
  counter = counter + 1
  local r = lines[(counter % #lines) + 1]
  local path = r.path
  if #rotate > 0 then
    path = path:gsub("@ROTATE@", rotate[(math.floor(counter / #lines) % #rotate) + 1])
  end
  local headers = {["Accept-Encoding"] = "gzip"}
  if r.auth == "T" then
    headers["Authorization"] = "Bearer " .. token
  end
  if r.method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format("GET", path, headers)
end
