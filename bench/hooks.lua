-- wrk script: Telegram webhook updates (a customer's reply) for the webhook benchmark.
-- Args: <path> <secret> <run> <chats>. Each request is a distinct update_id, from one of
-- <chats> chats that opened the bot; one in twenty repeats the thread's previous update
-- (Telegram retries), which must be applied once.

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local path, secret, run, chats, counter = "", "", 0, 1000, 0

function init(args)
  path, secret, run, chats = args[1], args[2], tonumber(args[3]), tonumber(args[4])
  math.randomseed(run * 1000 + tid)
end

function request()
  if counter == 0 or math.random() >= 0.05 then counter = counter + 1 end
  local update_id = run * 1000000000 + tid * 100000000 + counter
  local chat = 100000 + math.random(0, chats - 1)
  local body = string.format(
    '{"update_id": %d, "message": {"message_id": %d, "date": 1764000000, ' ..
    '"from": {"id": %d, "is_bot": false, "first_name": "Bench"}, ' ..
    '"chat": {"id": %d, "type": "private"}, "text": "Do you have it in blue? %d"}}',
    update_id, counter, chat, chat, counter)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = secret,
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
