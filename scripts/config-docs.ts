// Writes docs/configuration.md from the configuration table (npm run docs:config).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/docs.js';
import { CONFIG_SECTIONS } from '../src/config.js';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/configuration.md');
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, renderConfigDocs(CONFIG_SECTIONS));
console.log(`wrote ${path.relative(process.cwd(), file)}`);
