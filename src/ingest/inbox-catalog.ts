import type { DeliveryHandler } from './delivery.js';
import { genericDeliveryHandler } from './generic-delivery.js';

/** One kind of delivery the inbox keeps: its `source` name, the inbox routes it is stored under, and its handler. */
export interface InboxIntake {
  source: string;
  routes: readonly string[];
  handler: DeliveryHandler<unknown>;
}

/** The kinds of delivery the inbox knows, by source and by route. */
export class InboxCatalog {
  private readonly bySource = new Map<string, InboxIntake>();
  private readonly byRoute = new Map<string, InboxIntake>();

  constructor(intakes: readonly InboxIntake[]) {
    for (const intake of intakes) {
      if (this.bySource.has(intake.source)) throw new Error(`inbox source ${intake.source} is listed twice`);
      this.bySource.set(intake.source, intake);
      for (const route of intake.routes) {
        if (this.byRoute.has(route)) throw new Error(`inbox route ${route} is listed twice`);
        this.byRoute.set(route, intake);
      }
    }
  }

  get sources(): string[] {
    return [...this.bySource.keys()];
  }

  /** The source an inbox route belongs to ('unknown' for a route no intake names any more). */
  sourceOf(route: string): string {
    return this.byRoute.get(route)?.source ?? 'unknown';
  }

  routesOf(source: string): readonly string[] {
    return this.bySource.get(source)?.routes ?? [];
  }

  handlerFor(route: string): DeliveryHandler<unknown> | undefined {
    return this.byRoute.get(route)?.handler;
  }
}

/** The generic webhook routes: POST /webhook and its seed-compatible alias. */
export const GENERIC_INTAKE: InboxIntake = { source: 'generic', routes: ['/webhook', '/receive_webhook'], handler: genericDeliveryHandler };
