// A transform that writes onto each event whether the options it was built with are frozen, for the
// test that options are read-only wherever a transform runs (main thread or worker threads). It names
// its module, so `workers: N` runs it in threads.
import type { TransformDefinition } from '@tern/core';

export const optionsProbeTransform: TransformDefinition<{ label: string }> = {
  kind: 'transform',
  type: 'options_probe',
  description: 'test: marks each event with whether its options are frozen',
  mutates: true,
  module: import.meta.url,
  schema: { type: 'object', additionalProperties: false, properties: { label: { type: 'string', default: 'probe', description: 'A value to carry.', examples: ['probe'] } } },
  build(cfg) {
    return {
      process(events, emit) {
        for (const e of events) {
          const d = e.mutate();
          d.options_frozen = Object.isFrozen(cfg);
          d.label = cfg.label;
        }
        emit(events);
      },
    };
  },
};
