// Worker thread entry: workers start without the main thread's TypeScript loader, so
// register it here, then load the TypeScript body.
require('tsx/cjs/api').register();
require('./traceWorkerMain.ts');
