#!/bin/sh
# Installs the BullMQ column of rsmq-bench's worker cell: bullmq and ioredis, at the versions
# pinned in package-lock.json, into bench/js/node_modules. Needs node and npm.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
