/**
 * Small pieces for assembling a `SinkProtocol`: a sink's encoder usually owns encoding, partitioning
 * and the size estimate, and its protocol only adds sending, the healthcheck and closing.
 */
import type { LogEvent } from '../event/event.ts';
import type { EncodedRequest, SinkProtocol } from './types.ts';

/** What an encoder offers the kit. */
export interface ProtocolEncoder<R extends EncodedRequest> {
  encode(events: readonly LogEvent[], partition: string): R;
  partition?(ev: LogEvent): string;
  estimate?(ev: LogEvent): number;
}

/** The encoding half of a protocol, the encoder's methods bound to it (spread it into the protocol). */
export function encodingOf<R extends EncodedRequest>(enc: ProtocolEncoder<R>): Pick<SinkProtocol<R>, 'encode' | 'partition' | 'estimate'> {
  return {
    encode: (events, partition) => enc.encode(events, partition),
    ...(enc.partition ? { partition: enc.partition.bind(enc) } : {}),
    ...(enc.estimate ? { estimate: enc.estimate.bind(enc) } : {}),
  };
}
