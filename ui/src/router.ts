import { signal } from '@preact/signals';

/** The console's pages, each at its own path under /ui/ (the service answers every one with the page). */
export const PAGES = [
  { path: 'overview', title: 'Overview' },
  { path: 'syncs', title: 'Syncs' },
  { path: 'webhooks', title: 'Webhooks' },
  { path: 'records', title: 'Records' },
] as const;
export type PagePath = (typeof PAGES)[number]['path'];

function current(): PagePath {
  const name = location.pathname.replace(/^\/ui\/?/, '').split('/')[0] ?? '';
  return PAGES.find((p) => p.path === name)?.path ?? 'overview';
}

export const route = signal<PagePath>(current());

export function navigate(path: PagePath): void {
  if (path !== route.value) history.pushState(null, '', `/ui/${path}`);
  route.value = path;
}

addEventListener('popstate', () => {
  route.value = current();
});
