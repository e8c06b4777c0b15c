// Preloaded (node --import) to make better-sqlite3's native module fail to load as it does
// after switching Node.js under an installed tree. FOREIGN_ADDON=version throws the error
// Node.js raises for a module built for another ABI (NODE_MODULE_VERSION 108, Node 18);
// FOREIGN_ADDON=garbage makes Node.js really dlopen a file that is no shared library.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const mode = process.env.FOREIGN_ADDON;
const dlopen = process.dlopen.bind(process);
process.dlopen = (module: { exports: unknown }, filename: string, flags?: number) => {
  if (!filename.endsWith('better_sqlite3.node')) return dlopen(module, filename, flags);
  if (mode === 'version') {
    const err = new Error(
      `The module '${filename}'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 108. This version of Node.js requires\nNODE_MODULE_VERSION ${process.versions.modules}. Please try re-compiling or re-installing\nthe module (for instance, using \`npm rebuild\` or \`npm install\`).`,
    ) as Error & { code: string };
    err.code = 'ERR_DLOPEN_FAILED';
    throw err;
  }
  const garbage = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'addon-')), 'better_sqlite3.node');
  fs.writeFileSync(garbage, 'not a shared library');
  return dlopen(module, garbage, flags);
};
