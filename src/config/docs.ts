import type { Section, Table } from './variables.js';

const INTRO = `# Configuration

Tributary is configured through environment variables only. A bad value stops
the start with one line naming the variable (exit code 2); an empty value is
the same as an unset one.

- A **duration** (every time the service takes) is \`500ms\`, \`30s\`, \`15m\`,
  \`2h\`, \`1d\`, or a plain number of milliseconds.
- A **size** is a number of bytes, or \`512kb\`, \`1mb\`.
- A **list** is items separated by commas or spaces.
- A **rate limit** is requests per window: \`100/1s\`, \`600/1m\`, \`10/s\`; \`off\` for none.

This file is generated from the variable declarations (\`src/config/core.ts\`
and each provider's \`src/providers/<name>/config.ts\`) by
\`npm run docs:config\`, and a test fails when it is out of date: change the
declarations, then run the script.
`;

function cell(markdown: string): string {
  return markdown.replaceAll('|', '\\|');
}

/** docs/configuration.md, from the sections' tables. */
export function renderConfigDocs(sections: readonly Section<Table>[]): string {
  const parts = [INTRO];
  for (const s of sections) {
    const rows = Object.values(s.variables).map((v) => `| \`${v.name}\` | ${cell(v.defaultText)} | ${cell(v.description)} | ${cell(v.format)} |`);
    parts.push([`## ${s.title}`, '', '| variable | default | meaning | accepted |', '| --- | --- | --- | --- |', ...rows, ''].join('\n'));
  }
  return parts.join('\n');
}
