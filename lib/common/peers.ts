/**
 * Each target's engine is an optional peer dependency. Requiring a target's subpath without it would
 * fail with a bare MODULE_NOT_FOUND for a file deep inside this package; this names the subpath, the
 * missing package and the command that installs what the target needs.
 */
export function assertPeersInstalled(subpath: string, peers: readonly string[]): void {
  const missing = peers.filter((peer) => {
    try {
      require.resolve(peer);
      return false;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return true;
      throw e;
    }
  });
  if (missing.length === 0) return;
  const err = new Error(`${subpath} needs the peer ${missing.length === 1 ? 'dependency' : 'dependencies'} ${missing.join(' and ')}: npm install ${peers.join(' ')}`);
  (err as NodeJS.ErrnoException).code = 'MODULE_NOT_FOUND';
  throw err;
}
