// Size caps for everything a client sends. They bound memory per request and keep one patch
// from monopolising a runner; the body limit on the route is derived from them.
export const LIMITS = {
  bodyBytes: 4 * 1024 * 1024,
  operations: 200,
  pathLength: 1024,
  fileBytes: 2 * 1024 * 1024,
  diffBytes: 3 * 1024 * 1024,
  textShort: 4096,
  checks: 20,
  metadataKeys: 50,
  jsonDepth: 32,
} as const
