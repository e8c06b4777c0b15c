import { signal } from '@preact/signals';

/** The console's pages, each at its own path under /ui/ (the service answers every one with the page). */
export const PAGES = [
  { path: 'overview', title: 'Overview' },
  { path: 'syncs', title: 'Syncs' },
  { path: 'webhooks', title: 'Webhooks' },
  { path: 'records', title: 'Records' },
] as const;
export type PagePath = (typeof PAGES)[number]['path'];
/** What the address shows: a page, or 'not-found' for a /ui/ path that names none. */
export type Route = PagePath | 'not-found';

function current(): Route {
  // /ui/ is the Overview, /ui/syncs that page; anything else (a typo, an old link) names no page.
  const rest = location.pathname.replace(/^\/ui\/?/, '');
  if (rest === '') return 'overview';
  return PAGES.find((p) => p.path === rest)?.path ?? 'not-found';
}

export const route = signal<Route>(current());

export function navigate(path: PagePath): void {
  if (path !== route.value) history.pushState(null, '', `/ui/${path}`);
  route.value = path;
}

addEventListener('popstate', () => {
  route.value = current();
});
