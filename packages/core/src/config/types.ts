/**
 * The shapes of a loaded pipeline, shared by the loader (load.ts) and the engine (topology/): a
 * problem found in a file, a validated component, the whole validated pipeline and its tests. Types
 * only, so the engine's graph checks and the loader do not import each other.
 */
import type { ErrorCode } from '../errors.ts';
import type { ComponentDefinition, ComponentKind } from '../plugin/types.ts';

export interface ConfigIssue {
  severity: 'error' | 'warning';
  code: ErrorCode;
  file: string;
  line: number;
  col: number;
  component?: string;
  message: string;
}

export interface ComponentConfig {
  readonly id: string;
  readonly kind: ComponentKind;
  readonly type: string;
  readonly inputs: readonly string[];
  /** Options after defaults were applied, as written in YAML (snake_case), without `type`/`inputs`/`workers`. */
  readonly options: Record<string, unknown>;
  /** Worker threads for a transform that supports them (0: main thread). */
  readonly workers: number;
  readonly definition: ComponentDefinition;
  /** Where the component is defined (for runtime errors that point back at the file). */
  readonly file: string;
  readonly line: number;
  readonly configDir: string;
}

/**
 * A validated pipeline: the global options under their YAML names, with the schema's defaults applied
 * (`data_dir` made absolute), the components, the tests and the warnings. Frozen, all the way down.
 */
export interface PipelineConfig {
  readonly files: readonly string[];
  /** Absolute. */
  readonly data_dir: string;
  readonly shutdown_timeout_ms: number;
  readonly in_flight: { readonly max_events: number; readonly max_bytes: number };
  /** The HTTP API, when the `api` block is set. */
  readonly api?: { readonly address: string };
  readonly components: readonly ComponentConfig[];
  /** `tern test` cases from the pipeline files (`tests:`), in file order. */
  readonly tests: readonly PipelineTest[];
  readonly warnings: readonly ConfigIssue[];
}

/** One `tern test` case, as written (TEST_SCHEMA), and where. */
export interface PipelineTest {
  readonly name: string;
  readonly inputs: ReadonlyArray<{ readonly insert_at: string; readonly events?: ReadonlyArray<Record<string, unknown>>; readonly lines?: readonly string[]; readonly path?: string }>;
  readonly outputs?: ReadonlyArray<{ readonly extract_from: string; readonly conditions?: readonly string[]; readonly count?: number }>;
  readonly no_outputs_from?: readonly string[];
  readonly file: string;
  readonly line: number;
}
