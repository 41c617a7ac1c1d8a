// The layers of DESIGN.md's "Layers": imports point down only. `npm run lint:deps` checks them.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-store-to-notify',
      comment: 'The store is below notify: notify reads the outbox through the store, never the reverse.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/notify/' },
    },
    {
      name: 'no-runner-to-routes',
      comment: 'The runner is below the HTTP layer: it never imports a route.',
      severity: 'error',
      from: { path: '^src/runner/' },
      to: { path: '^src/routes/' },
    },
    {
      name: 'no-src-to-test',
      comment: 'What ships never imports the tests.',
      severity: 'error',
      from: { path: '^(src|plugins|probes)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-scripts-to-test',
      comment: 'Scripts are tools a release or an operator runs; what they need lives in src.',
      severity: 'error',
      from: { path: '^scripts/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes two modules one: neither can be read, tested or changed alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|ui)/' },
    // Type-only imports count: a cycle through types still ties two modules together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
}
