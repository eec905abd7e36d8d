/**
 * The harness's layers, checked in `npm test`. A module may import from its own folder and from
 * any LOWER layer, never from a higher one nor from another folder of its own layer. Lowest first.
 * docs/architecture.md draws them; test/architecture.test.ts checks the drawing against these rules.
 */
const LAYERS = [
  ['stats', 'traces', 'root.ts', 'version.ts'], // pure leaves: statistics, trace parsing, paths
  ['profile'], // the vocabulary: profile schema, cells, metric rules
  ['results'], // the results format and store
  ['metrics'], // downtime metrics and phases from traces (pure)
  ['hosts'], // the one transport interface, ssh/local/netns, clocks, host commands
  ['guest', 'provision', 'qemu'], // guest images; host set-up steps; QEMU builds, launches, QMP
  ['migration'], // the migration engine
  ['sampling', 'lab', 'labbox', 'softlab'], // adaptive sampling; the labs around a run
  ['run'], // run orchestration: lab session, manifest, resume, shards
  ['report', 'plan'], // reports of runs; the dry-run plan
  ['nightly', 'verify'], // nightly verdicts (reports them through report/); result bundles and their verification
  ['cli'], // the command line
];

const path = (name) => `^harness/${name.replace(/\./g, '\\.')}${name.endsWith('.ts') ? '$' : '/'}`;
const any = (names) => `(${names.map(path).join('|')})`;

const layerRules = LAYERS.flatMap((layer, rank) =>
  layer.map((name) => {
    const higher = LAYERS.slice(rank + 1).flat();
    const siblings = layer.filter((other) => other !== name);
    const forbidden = [...higher, ...siblings];
    return {
      name: `layer-${name.replace('.ts', '')}`,
      comment: `harness/${name} (layer ${rank}) may import only its own folder and layers below ${rank}`,
      severity: 'error',
      from: { path: path(name) },
      to: { path: any(forbidden) },
    };
  }),
).filter((rule) => rule.to.path !== '()');

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles anywhere: a cycle means two modules are one concept or an interface is in the wrong file',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    // Inside report/: the model (what the numbers are) at the bottom, the exporters (one per format)
    // above it, the run's reading and the files' writing (load.ts, write.ts, index.ts) on top.
    {
      name: 'report-model-below-exporters',
      comment: 'The report model never imports an exporter, nor the reading or writing of files: exporters import the model, never the reverse',
      severity: 'error',
      from: { path: '^harness/report/model/' },
      to: { path: '^harness/report/(?!model/)' },
    },
    {
      name: 'report-model-is-pure',
      comment: 'The report model is computed from the records it is given: no file system, processes or network',
      severity: 'error',
      from: { path: '^harness/report/model/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'report-exporters-take-the-model',
      comment: 'An exporter formats the model it is handed: it never reads a run directory or writes report files itself (load.ts, write.ts, index.ts do)',
      severity: 'error',
      from: { path: '^harness/report/export/' },
      to: { path: '^harness/report/(?!model/|export/)' },
    },
    {
      name: 'report-charts-beside-html',
      comment: 'The chart builders and Vega belong to the HTML exporter: the text, Markdown and JSON exporters and the model never load them (only the registry, exporters.ts, names the HTML exporter)',
      severity: 'error',
      from: { path: '^harness/report/(model/|export/(?!html/|exporters\\.ts$))' },
      to: { path: ['^harness/report/export/html/', '(^|/)node_modules/vega(-lite)?/'] },
    },
    {
      name: 'pure-statistics-and-metrics',
      comment: 'Statistics and metrics are pure functions: no file system, processes or network',
      severity: 'error',
      from: { path: '^harness/(stats|metrics)/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'harness-is-self-contained',
      comment: 'The harness ships alone: it never imports tests, benchmarks or the testbed',
      severity: 'error',
      from: { path: '^harness/' },
      to: { path: '^(test|bench|testbed)/' },
    },
    {
      name: 'bench-and-testbed-not-into-tests',
      comment: 'Benchmarks and the testbed stand on their own; what tests and benchmarks share lives in testbed/',
      severity: 'error',
      from: { path: '^(bench|testbed)/' },
      to: { path: '^test/' },
    },
    {
      name: 'harness-uses-runtime-dependencies',
      comment: 'A devDependency is not installed with the package',
      severity: 'error',
      from: { path: '^harness/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'] },
  },
};
