import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

export interface Doc {
  file: string;
  object: { apiVersion?: string; kind?: string; [key: string]: unknown };
}

/** Every YAML document under examples/, as a user would apply it. */
export function exampleDocuments(): Doc[] {
  return yamlFiles(join(ROOT, 'examples')).flatMap((path) =>
    parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => ({
      file: relative(ROOT, path),
      object: doc.toJS() as Doc['object'],
    })),
  );
}

export interface InvalidFixture extends Doc {
  /**
   * Who refuses it: `schema` both zod and the API server (the CRD schema); `api` only the API
   * server (CEL rules, list keys); `zod` only the controller (checks too costly for CEL).
   */
  layer: 'schema' | 'api' | 'zod';
  /** Every one of these must appear in the refusal: the field's path and what is wrong with it. */
  expect: string[];
}

/** test/fixtures/invalid: objects that must be refused, with the message that must name the problem. */
export function invalidFixtures(): InvalidFixture[] {
  return yamlFiles(join(ROOT, 'test/fixtures/invalid')).map((path) => {
    const text = readFileSync(path, 'utf8');
    const layer = /^# layer: (schema|api|zod)$/m.exec(text)?.[1];
    const expect = [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1] as string);
    if (!layer || expect.length === 0)
      throw new Error(`${path}: needs '# layer:' and '# expect:' header lines`);
    return {
      file: relative(ROOT, path),
      object: parseAllDocuments(text)[0]?.toJS() as Doc['object'],
      layer: layer as InvalidFixture['layer'],
      expect,
    };
  });
}
