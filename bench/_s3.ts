const t0 = performance.now();
const before = Object.keys(require.cache).length;
require(process.argv[2]);
const t1 = performance.now();
const keys = Object.keys(require.cache);
console.log(process.argv[2], 'startup', t0.toFixed(0), 'require', (t1-t0).toFixed(1), 'mods', keys.length-before, 'ts', keys.filter(k=>k.endsWith('.ts')).length, 'cdk', keys.filter(k=>k.includes('/aws-cdk-lib/')).length, 'cdktf', keys.filter(k=>k.includes('/cdktf')).length, 'rss', (process.memoryUsage().rss/1048576).toFixed(0));
