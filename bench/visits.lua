-- wrk script: POST /api/v1/visits with a mix of the four white types and grey.
-- Args: <token> <run>. Every request has a unique external id; customers get unique
-- phones (a valid UK mobile block per run and thread), and one in ten "taken" visits
-- comes back with an earlier phone of the same thread: a repeat customer.

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local token, run, counter, phones = "", 0, 0, 0
local reasons = {"credit_refused", "price_difference", "just_looking", "too_pushy",
                 "too_passive", "wrong_sales_tool", "weak_product_knowledge"}

function init(args)
  token = args[1]
  run = tonumber(args[2])
  math.randomseed(run * 1000 + tid)
end

local function phone()
  if phones > 10 and math.random() < 0.1 then
    return string.format("+44%d%06d", 7400 + run * 4 + tid, math.random(1, phones))
  end
  phones = phones + 1
  return string.format("+44%d%06d", 7400 + run * 4 + tid, phones)
end

local function customer()
  return string.format(
    '"customer": {"name": "Bench customer", "phone": "%s", "language": "en", ' ..
    '"consent": {"contact": true, "marketing": false}}', phone())
end

function request()
  counter = counter + 1
  local r = math.random()
  local bought, capture, extra
  if r < 0.30 then bought, capture = "true", "taken"          -- type 1
  elseif r < 0.45 then bought, capture = "true", "refused"    -- type 2
  elseif r < 0.65 then bought, capture = "false", "taken"     -- type 3
  elseif r < 0.85 then bought, capture = "false", "refused"   -- type 4
  else bought, capture = (r < 0.93) and "true" or "false", "not_attempted" end  -- grey
  local parts = {
    string.format('"bought": %s', bought),
    string.format('"contact_capture": "%s"', capture),
    '"staff": "bench-sam"',
    string.format('"external_id": "bench-%d-%d-%d"', run, tid, counter),
  }
  if bought == "false" then
    parts[#parts + 1] = string.format('"reason": "%s"', reasons[math.random(#reasons)])
  end
  if capture == "taken" then parts[#parts + 1] = customer() end
  local body = "{" .. table.concat(parts, ", ") .. "}"
  return wrk.format("POST", "/api/v1/visits", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
