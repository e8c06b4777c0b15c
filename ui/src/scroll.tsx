import type { ComponentChildren } from 'preact';

/** A table that scrolls sideways on a narrow screen: focusable, so the keyboard can scroll it too. */
export function Scroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
