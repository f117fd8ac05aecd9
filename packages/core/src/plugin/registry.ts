/**
 * Maps a component `type` to its definition. The CLI fills one registry with every built-in plugin;
 * tests build small registries of their own. Core itself registers nothing.
 */
import type { ComponentDefinition, ComponentKind } from './types.ts';

export class Registry {
  private readonly defs = new Map<string, ComponentDefinition<never>>();

  private key(kind: ComponentKind, type: string): string {
    return `${kind}:${type}`;
  }

  register(...defs: ReadonlyArray<ComponentDefinition<never>>): this {
    for (const def of defs) {
      const k = this.key(def.kind, def.type);
      if (this.defs.has(k)) throw new Error(`component ${def.kind} type "${def.type}" registered twice`);
      this.defs.set(k, def);
    }
    return this;
  }

  get(kind: ComponentKind, type: string): ComponentDefinition<unknown> | undefined {
    return this.defs.get(this.key(kind, type)) as ComponentDefinition<unknown> | undefined;
  }

  types(kind: ComponentKind): string[] {
    return [...this.defs.values()].filter((d) => d.kind === kind).map((d) => d.type).sort();
  }

  all(): ComponentDefinition<unknown>[] {
    return [...this.defs.values()] as ComponentDefinition<unknown>[];
  }
}
