// Loaded with --import into a worker started by the utilityProcess stand-in
// (test/helpers/utility-process-standin.ts): gives it Electron's `process.parentPort` over Node's
// IPC channel, and ends it when the parent goes (Electron ends utility processes with the app).
// Like Electron's port, messages wait in a queue until the first 'message' listener is attached.
import { EventEmitter } from 'node:events';
import { setImmediate } from 'node:timers';

const port = new EventEmitter();
const queued = [];
let started = false;
port.postMessage = (message) => process.send?.(message);
port.on('newListener', (name) => {
  if (name !== 'message' || started) return;
  started = true;
  setImmediate(() => {
    for (const data of queued.splice(0)) port.emit('message', { data });
  });
});
process.on('message', (data) => {
  if (started) port.emit('message', { data });
  else queued.push(data);
});
process.on('disconnect', () => process.exit(0));
process.parentPort = port;
