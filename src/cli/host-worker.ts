/** A worker thread of --each-host --jobs N (each-host.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { workerMain } from './each-host.js';

workerMain(workerData, (m) => parentPort!.postMessage(m));
