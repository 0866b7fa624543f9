-- wrk: valid, authenticated Telegram updates from thousands of distinct chats.
-- Each thread numbers its own updates so update ids never repeat across threads.
local counter = 0
thread_id = 0  -- set per thread by setup() (a global: wrk sets it in each thread)
local secret = os.getenv("ADUAN_BENCH_SECRET") or "bench-secret"
local chats = tonumber(os.getenv("ADUAN_BENCH_CHATS") or "5000")
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  local uid = thread_id * 100000000 + counter
  local chat = 1000000 + (uid % chats)
  local body = string.format('{"update_id":%d,"message":{"message_id":%d,"date":1700000000,' ..
    '"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"B"},' ..
    '"text":"Pelayanan loket lambat sekali, mohon ditindaklanjuti"}}', uid, counter, chat, chat)
  return wrk.format("POST", "/webhooks/telegram",
    {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = secret}, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("WRK requests %d duration_us %d non2xx %d connect_err %d timeout %d " ..
    "p50_us %d p99_us %d p999_us %d\n", summary.requests, summary.duration, non2xx,
    summary.errors.connect, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
