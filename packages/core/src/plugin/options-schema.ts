/**
 * The options type of a component and its JSON schema, checked against each other when tern is
 * compiled. The schema is what validates and fills in a user's YAML; the options type is what the
 * component's code reads. Written by hand, the two drifted silently: an option the schema gives a
 * default typed as optional (dead `?? fallback` code that disagrees with the documented default), or
 * one the type declares that no YAML can set. `optionsSchema<C>()(schema)` refuses to compile unless:
 *
 * - the type and the schema name the same options;
 * - an option is optional in the type exactly when the schema neither requires it nor gives it a
 *   default (validation fills in defaults, so a defaulted option is always there);
 * - an option whose schema is an `enum` of strings has exactly those values as its type.
 *
 * The compile error names the options that differ. Nested objects are the component's own business
 * (their sub-schemas are shared across components and checked where they are defined). Options
 * filled in elsewhere are named as `Elsewhere` and left out of the comparison: those the engine adds
 * to every component of a kind (a sink's `buffer`), and defaults a conditional branch of the schema
 * sets (`http_server`'s per-sender defaults).
 */
import type { JsonSchema } from './types.ts';

/** `S` without the properties `X`. */
type WithoutProps<S, X extends PropertyKey> = S extends { readonly properties: infer P } ? Omit<S, 'properties'> & { readonly properties: Omit<P, X> } : S;
type Props<S> = S extends { readonly properties: infer P } ? P : Record<never, never>;
type RequiredNames<S> = S extends { readonly required: ReadonlyArray<infer R> } ? R : never;
/** Options validation always leaves set: required ones and those with a default. */
type Filled<S> = { [K in keyof Props<S>]: K extends RequiredNames<S> ? K : Props<S>[K] extends { readonly default: unknown } ? K : never }[keyof Props<S>];
type OptionalKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? K : never }[keyof T];
/** Options whose schema is an enum of literal strings and whose type is not exactly those strings. */
type EnumMismatch<C, S> = {
  [K in keyof Props<S> & keyof C]: Props<S>[K] extends { readonly enum: ReadonlyArray<infer E> }
    ? string extends E
      ? never
      : [Exclude<NonNullable<C[K]>, E>, Exclude<NonNullable<E>, NonNullable<C[K]>>] extends [never, never]
        ? never
        : K
    : never;
}[keyof Props<S> & keyof C];

type Name<K> = K & string;

/** Each difference as a sentence naming the option (a union: the compiler prints it whole). */
type Differences<C, S> =
  | `${Name<Exclude<keyof C, keyof Props<S>>>}: in the options type, not in the schema (no YAML can set it)`
  | `${Name<Exclude<keyof Props<S>, keyof C>>}: in the schema, not in the options type (the code cannot read it)`
  | `${Name<Exclude<OptionalKeys<C> & keyof Props<S>, Exclude<keyof Props<S>, Filled<S>>>>}: optional in the type, but the schema requires it or gives a default`
  | `${Name<Exclude<Exclude<keyof Props<S>, Filled<S>> & keyof C, OptionalKeys<C>>>}: required in the type, but the schema neither requires it nor gives a default`
  | `${Name<EnumMismatch<C, S>>}: typed with other values than the schema's enum`;

/**
 * `unknown` when `C` and `S` agree; otherwise a type with one property per difference, named by the
 * difference: the compile error reads "Property '<option>: <what differs>' is missing".
 */
export type OptionsMatchSchema<C, S> = [Differences<C, S>] extends [never] ? unknown : { readonly [D in Differences<C, S>]: D };

/**
 * Returns `schema` as it is, after the compiler checked it against the options type `C` (see the file's
 * comment). Usage: `schema: optionsSchema<FileSourceConfig>()({ type: 'object', properties: { … } })`.
 */
export function optionsSchema<C, Elsewhere extends keyof C = never>(): <const S extends JsonSchema>(schema: S & OptionsMatchSchema<Omit<C, Elsewhere>, WithoutProps<S, Elsewhere>>) => S {
  return (schema) => schema;
}
