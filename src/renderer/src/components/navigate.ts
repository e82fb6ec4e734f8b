/**
 * Moving between pages from inside a page (an empty state's "Generate one", a run's "Open in the
 * Gallery"): App listens for this event, so pages need no prop threading.
 */
export interface NavigateDetail {
  page: string;
  /** Optional filter the target page applies (e.g. the Gallery's run). */
  runId?: number;
}

const EVENT = 'latent-studio:navigate';

export function navigate(detail: NavigateDetail): void {
  window.dispatchEvent(new CustomEvent<NavigateDetail>(EVENT, { detail }));
}

export function onNavigate(listener: (detail: NavigateDetail) => void): () => void {
  const handler = (e: Event): void => listener((e as CustomEvent<NavigateDetail>).detail);
  window.addEventListener(EVENT, handler);
  return () => window.removeEventListener(EVENT, handler);
}
