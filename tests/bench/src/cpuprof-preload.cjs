// CPU-profiles each Tessera service from start to exit (node refuses --cpu-prof in NODE_OPTIONS,
// so this preload uses the inspector instead). Writes <BENCH_PROF_DIR>/<service>-<pid>.cpuprofile.
// Usage: BENCH_PROF_DIR=/tmp/prof NODE_OPTIONS="--require $PWD/tests/bench/src/cpuprof-preload.cjs" \
//          node --import tsx tests/bench/src/profile-tessera.ts 1000 65536
const service = /services\/([^/]+)\/dist\/main\.js/.exec(process.argv[1] || '');
if (service) {
  const inspector = require('node:inspector');
  const fs = require('node:fs');
  const dir = process.env.BENCH_PROF_DIR || '/tmp/benchprof';
  fs.mkdirSync(dir, { recursive: true });
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // the in-process inspector answers synchronously, so this completes before exit
    session.post('Profiler.stop', (error, result) => {
      if (!error) fs.writeFileSync(`${dir}/${service[1]}-${process.pid}.cpuprofile`, JSON.stringify(result.profile));
    });
  });
}
