#!/usr/bin/env node
// The BullMQ column of rsmq-bench's worker cell: a BullMQ `Worker` with a no-op processor
// consumes N jobs that are already queued, and the time from its start until all N are
// completed (and removed) is measured.
//
//   node bullmq_worker.js --host H --port P [--db N] [--username U] [--password X]
//                         --prefix PREFIX --n N --conc C --size BYTES --warmup W
//
// Steps, in one process, one queue `q` under the key prefix PREFIX:
//   1. warm-up (untimed): W jobs added with `addBulk`, a worker of concurrency C until all
//      are completed, then closed (this loads BullMQ's scripts into Redis);
//   2. pre-fill (untimed): N jobs with `addBulk`, in chunks of 1000, each with a body of
//      BYTES `x`s and `removeOnComplete: true` (a completed job is deleted, as an RSMQ worker
//      deletes a handled message);
//   3. a new `Worker` (concurrency C, `autorun: false`) is created and waits until its
//      connection is ready; the clock starts at `worker.run()` and stops at the N-th
//      `completed` event (BullMQ emits it once the job is moved to completed, here removed).
// Prints one JSON line: {"ok":true,"n":..,"elapsed_s":..,"cpu_us":..} (cpu of this process
// in the timed phase), or {"ok":false,"missing":bool,"error":".."} (exit 3: bullmq missing).
"use strict";

const path = require("path");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

let bullmq;
try {
  bullmq = require(path.join(__dirname, "node_modules", "bullmq"));
} catch (e) {
  out({ ok: false, missing: true, error: `cannot load bullmq: ${e.message}` });
  process.exit(3);
}
const { Queue, Worker } = bullmq;

function parseArgs(argv) {
  const o = { host: "127.0.0.1", port: 6379, db: 0, n: 1000, conc: 1, size: 100, warmup: 500 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, "");
    const v = argv[i + 1];
    if (["port", "db", "n", "conc", "size", "warmup"].includes(k)) {
      o[k] = Number(v);
    } else {
      o[k] = v;
    }
  }
  if (!o.prefix) throw new Error("--prefix is required");
  return o;
}

async function addJobs(queue, count, body) {
  const chunk = 1000;
  for (let i = 0; i < count; i += chunk) {
    const jobs = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      jobs.push({ name: "j", data: body, opts: { removeOnComplete: true, removeOnFail: true } });
    }
    await queue.addBulk(jobs);
  }
}

// Runs a worker until `count` jobs are completed; returns seconds from `run()` to the last.
async function consume(o, connection, count) {
  let done = 0;
  let failed = null;
  let finish;
  const all = new Promise((resolve) => {
    finish = resolve;
  });
  const worker = new Worker("q", async () => {}, {
    connection,
    prefix: o.prefix,
    concurrency: o.conc,
    autorun: false,
    removeOnComplete: { count: 0 },
  });
  worker.on("completed", () => {
    done += 1;
    if (done === count) finish();
  });
  worker.on("failed", (_job, err) => {
    failed = failed || String(err);
  });
  worker.on("error", (err) => {
    failed = failed || String(err);
  });
  await worker.waitUntilReady();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const running = worker.run();
  await all;
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  await worker.close();
  await running;
  if (failed) throw new Error(failed);
  return { elapsed_s: Number(t1 - t0) / 1e9, cpu_us: cpu.user + cpu.system };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const connection = {
    host: o.host,
    port: o.port,
    db: o.db,
    maxRetriesPerRequest: null,
  };
  if (o.username) connection.username = o.username;
  if (o.password) connection.password = o.password;
  const body = "x".repeat(o.size);
  const queue = new Queue("q", { connection, prefix: o.prefix });
  await queue.waitUntilReady();
  if (o.warmup > 0) {
    await addJobs(queue, o.warmup, body);
    await consume(o, connection, o.warmup);
  }
  await addJobs(queue, o.n, body);
  const r = await consume(o, connection, o.n);
  const left = await queue.getJobCounts("waiting", "active", "completed", "failed");
  await queue.close();
  out({ ok: true, n: o.n, elapsed_s: r.elapsed_s, cpu_us: r.cpu_us, left });
}

main().then(
  () => process.exit(0),
  (e) => {
    out({ ok: false, missing: false, error: String((e && e.stack) || e) });
    process.exit(1);
  },
);
