import * as fs from 'fs';
import * as path from 'path';
import { SampleToCheck } from '../common/sample-check';
import { ModelDeploymentValidationError } from '../spec/errors';
import { PredictionSample, resolveSample } from '../spec/verification';
import { ProbeInputError } from './errors';

/**
 * The largest request or expected response the probe reads, each (the spec's samples are capped at
 * 16 KiB because they travel through templates and environment variables; the probe's do not).
 */
export const PROBE_MAX_JSON_BYTES = 64 * 1024 * 1024;

/** One request the probe sends: its body, serialized once, and what the answer must contain, when known. */
export interface ProbeSample {
  readonly name: string;
  /** The request body exactly as sent (compact JSON, UTF-8). */
  readonly body: Buffer;
  /** The sample as checkSamples takes it; absent when the file gave no expected response. */
  readonly expected?: SampleToCheck;
}

/**
 * Reads a requests file: a JSON array of samples, or JSON Lines (one sample per line), each in the
 * shape of the spec's `verification.samples` (`{ name?, request, expectedResponse?,
 * absoluteTolerance?, relativeTolerance? }`), checked by the spec's own resolver. A problem names the
 * file and the item (`[3]` in an array, `:4` for the line of JSON Lines) and the field.
 */
export function readRequestsFile(file: string): ProbeSample[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProbeInputError(`cannot read the requests file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseRequests(text, path.basename(file));
}

/** Parses the text of a requests file; `label` names it in messages. */
export function parseRequests(text: string, label: string): ProbeSample[] {
  const items: { field: string; value: unknown }[] = [];
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ProbeInputError(`requests file ${label} is not valid JSON: ${syntaxProblem(e as Error, text)}`);
    }
    (parsed as unknown[]).forEach((value, i) => items.push({ field: `${label}[${i}]`, value }));
  } else {
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        items.push({ field: `${label}:${i + 1}`, value: JSON.parse(line) });
      } catch (e) {
        throw new ProbeInputError(`requests file ${label}, line ${i + 1}, is not valid JSON: ${(e as Error).message} (expected a JSON array of samples, or one sample object per line)`);
      }
    });
  }
  if (items.length === 0) {
    throw new ProbeInputError(`requests file ${label} has no requests: give a JSON array of samples, or one sample per line, each { "request": {...}, "expectedResponse": ... (optional) }`);
  }
  return items.map(({ field, value }, i) => toProbeSample(field, value, i));
}

function toProbeSample(field: string, value: unknown, index: number): ProbeSample {
  const object = value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  const hasExpected = object !== undefined && object.expectedResponse !== undefined;
  // The spec requires an expected response; here it is optional: a stand-in passes that check and is dropped.
  const sample = (object && !hasExpected ? { ...object, expectedResponse: null } : value) as PredictionSample;
  try {
    const resolved = resolveSample(field, sample, index, PROBE_MAX_JSON_BYTES);
    return {
      name: resolved.name,
      body: Buffer.from(resolved.requestJson, 'utf8'),
      expected: hasExpected ? resolved : undefined,
    };
  } catch (e) {
    if (e instanceof ModelDeploymentValidationError) throw new ProbeInputError(`requests file: ${e.message}`);
    throw e;
  }
}

/** JSON.parse's complaint, with the item and the line where it can tell. */
function syntaxProblem(e: Error, text: string): string {
  const position = /position (\d+)/.exec(e.message);
  if (position) return `${e.message} (line ${lineAt(text, Number(position[1]))})`;
  const item = brokenItem(text);
  return item ? `${e.message} (item [${item.index}], from line ${lineAt(text, item.start)})` : e.message;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The first top-level item of a JSON array that does not parse on its own (strings and nesting respected). */
function brokenItem(text: string): { index: number; start: number } | undefined {
  let depth = 0;
  let inString = false;
  let start = -1;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (depth++ === 0) start = i + 1;
    } else if (c === ']' || c === '}' || c === ',') {
      if (c !== ',') depth--;
      if ((c === ',' && depth === 1) || (c === ']' && depth === 0)) {
        const item = text.slice(start, i);
        if (item.trim() !== '' || c === ',') {
          try {
            JSON.parse(item);
          } catch {
            return { index, start: start + (item.length - item.trimStart().length) };
          }
        }
        index++;
        start = i + 1;
      }
    }
  }
  return undefined;
}
