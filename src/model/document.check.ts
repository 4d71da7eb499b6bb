// Compile-time proof that the hand-written status document types (document.ts,
// kernel-document.ts) agree with the ones generated from schema/status.schema.json
// (status-document.generated.ts, `npm run gen:types`). `tsc` fails on this file when a field
// is added, renamed or retyped on one side only. It holds types alone: nothing runs.
//
// Two checks per type:
// - Same: after making every field required and dropping `undefined` on both sides, each is
//   assignable to the other: the same field names, each with the same type (null included).
// - Fits: the hand-written type is assignable to the generated one as it is, so every
//   document the code builds has each field the schema requires. The converse is not asked:
//   the code may promise a field the schema leaves optional (staleReason, pathGone, …),
//   because readers must accept documents from versions that lacked it.

import type * as hand from './document.js';
import type * as gen from './status-document.generated.js';

// Primitives first: `string & {}` (the open StaleReason) is an object type to `extends object`.
type Norm<T> = T extends string | number | boolean | bigint | null
	? T
	: T extends readonly (infer U)[]
		? Norm<U>[]
		: T extends object
			? {[K in keyof T]-?: Norm<Exclude<T[K], undefined>>}
			: T;
type Same<A, B> = [Norm<A>] extends [Norm<B>] ? ([Norm<B>] extends [Norm<A>] ? true : false) : false;
type Fits<A, B> = [A] extends [B] ? true : false;
type Assert<T extends true> = T;

export type DocumentAgreesWithSchema = [
	Assert<Same<hand.StatusDocument, gen.StatusDocument>>,
	Assert<Fits<hand.StatusDocument, gen.StatusDocument>>,
	Assert<Same<hand.Host, gen.Host>>,
	Assert<Same<hand.Sysroot, gen.Sysroot>>,
	Assert<Same<hand.Deployment, gen.Deployment>>,
	Assert<Fits<hand.Deployment, gen.Deployment>>,
	Assert<Same<hand.Composefs, NonNullable<gen.Composefs>>>,
	Assert<Same<hand.Overlay, gen.Overlay>>,
	Assert<Same<hand.OverlayFile, gen.OverlayFile>>,
	Assert<Same<hand.Process, gen.Process>>,
	Assert<Fits<hand.Process, gen.Process>>,
	Assert<Same<hand.ProcessRoot, gen.ProcessRoot>>,
	Assert<Same<hand.MappedFile, gen.MappedFile>>,
	Assert<Fits<hand.MappedFile, gen.MappedFile>>,
	Assert<Same<hand.Origin, gen.Origin>>,
	Assert<Same<hand.Package, NonNullable<gen.Package>>>,
	Assert<Same<hand.Unit, gen.Unit>>,
	Assert<Same<hand.Summary, gen.Summary>>,
	Assert<Fits<hand.Summary, gen.Summary>>,
	Assert<Same<hand.Warning, gen.Warning>>,
	Assert<Same<hand.Kernel, gen.Kernel>>,
	Assert<Fits<hand.Kernel, gen.Kernel>>,
	Assert<Same<hand.InstalledKernel, gen.InstalledKernel>>,
	Assert<Same<hand.Livepatch, gen.Livepatch>>,
	Assert<Same<hand.KernelReason, gen.KernelReason>>,
];
