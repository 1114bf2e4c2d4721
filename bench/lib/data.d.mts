// Types of data.mjs for the TypeScript workers (bench/gpu/worker.ts).
export interface LengthHistogram { corpus: string; tokenizer: string; mean: number; median: number; histogram: Array<[number, number]> }
export function loadHistogram(root: string, name: string): LengthHistogram;
export function sampleLengths(h: LengthHistogram, n: number, maxLength: number, seed: number): number[];
export function makeExamples(lengths: number[], vocab: number, classify: boolean, seed: number): Array<{ ids: number[]; label?: number }>;
export function realTokens(examples: Array<{ ids: number[] }>): number;
export function groupedOrder(lengths: number[], batch: number, megaBatches: number, seed: number): number[];
