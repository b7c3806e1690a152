/**
 * schema.graphql must be the print of the code, and the printed schema must hold every name of the public
 * contract (docs/contract.graphql, a copy of the shared contract) with a compatible type.
 */
import fs from 'node:fs';
import {
  buildSchema,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, readSchemaFile, schemaDifferences } from '../../scripts/schema-file.ts';

/**
 * Contract names not in the schema yet, while their types are being built. Empty it as they land: the test
 * fails for a name missing from the schema and not listed here, and for a name listed here that exists.
 */
const PENDING_CONTRACT_NAMES: readonly string[] = [];

/** Contract fields whose type in the schema does not fit the contract yet; the same rules as above. */
const PENDING_CONTRACT_TYPES: readonly string[] = [];

const contract = buildSchema(
  fs.readFileSync(new URL('../../docs/contract.graphql', import.meta.url), 'utf8'),
);
const printed = buildSchema(printedSchema());

/** Output positions may be stricter than the contract (add non-null); input positions may be looser. */
function compatible(actual: GraphQLType, expected: GraphQLType, input: boolean): boolean {
  if (isNonNullType(expected) && isNonNullType(actual))
    return compatible(actual.ofType, expected.ofType, input);
  if (isNonNullType(actual)) return !input && compatible(actual.ofType, expected, input);
  if (isNonNullType(expected)) return input && compatible(actual, expected.ofType, input);
  if (isListType(expected) || isListType(actual))
    return isListType(expected) && isListType(actual) && compatible(actual.ofType, expected.ofType, input);
  return (actual as GraphQLNamedType).name === (expected as GraphQLNamedType).name;
}

interface Coverage {
  missing: string[];
  incompatible: string[];
}

/** Every name the contract declares, checked against the printed schema. */
function coverage(): Coverage {
  const missing: string[] = [];
  const incompatible: string[] = [];
  const checkType = (where: string, actual: GraphQLType, expected: GraphQLType, input: boolean) => {
    if (!compatible(actual, expected, input))
      incompatible.push(`${where}: ${actual} where the contract has ${expected}`);
  };
  for (const expected of Object.values(contract.getTypeMap())) {
    if (expected.name.startsWith('__')) continue;
    const actual = printed.getType(expected.name);
    if (!actual) {
      missing.push(expected.name);
      continue;
    }
    if (actual.constructor !== expected.constructor) {
      incompatible.push(
        `${expected.name}: a ${actual.constructor.name} where the contract has a ${expected.constructor.name}`,
      );
      continue;
    }
    if (isEnumType(expected) && isEnumType(actual)) {
      for (const value of expected.getValues()) {
        if (!actual.getValue(value.name)) missing.push(`${expected.name}.${value.name}`);
      }
    }
    if (
      (isObjectType(expected) || isInterfaceType(expected)) &&
      (isObjectType(actual) || isInterfaceType(actual))
    ) {
      const interfaces = new Set(actual.getInterfaces().map((i) => i.name));
      for (const i of expected.getInterfaces()) {
        if (!interfaces.has(i.name)) missing.push(`${expected.name} implements ${i.name}`);
      }
      const fields = actual.getFields();
      for (const field of Object.values(expected.getFields()) as GraphQLField<unknown, unknown>[]) {
        const coordinate = `${expected.name}.${field.name}`;
        const actualField = fields[field.name];
        if (!actualField) {
          missing.push(coordinate);
          continue;
        }
        checkType(coordinate, actualField.type, field.type, false);
        for (const arg of field.args) {
          const actualArg = actualField.args.find((a) => a.name === arg.name);
          if (!actualArg) missing.push(`${coordinate}(${arg.name}:)`);
          else checkType(`${coordinate}(${arg.name}:)`, actualArg.type, arg.type, true);
        }
      }
    }
    if (isInputObjectType(expected) && isInputObjectType(actual)) {
      const fields = actual.getFields();
      for (const field of Object.values(expected.getFields()) as GraphQLInputField[]) {
        const actualField = fields[field.name];
        if (!actualField) missing.push(`${expected.name}.${field.name}`);
        else checkType(`${expected.name}.${field.name}`, actualField.type, field.type, true);
      }
    }
  }
  return { missing, incompatible };
}

describe('schema.graphql', () => {
  it('is the print of the schema in the code (npm run schema:print)', () => {
    const file = readSchemaFile();
    const fresh = printedSchema();
    const differences = file === undefined ? ['the file is missing'] : schemaDifferences(file, fresh);
    expect(differences, 'schema.graphql is stale: run npm run schema:print').toEqual([]);
    expect(file).toBe(fresh);
  });

  it('has every type, field, argument and enum value of the contract', () => {
    const { missing } = coverage();
    const pending = new Set(PENDING_CONTRACT_NAMES);
    expect(
      missing.filter((name) => !pending.has(name)),
      'contract names missing from the schema',
    ).toEqual([]);
    expect(
      PENDING_CONTRACT_NAMES.filter((name) => !missing.includes(name)),
      'names in PENDING_CONTRACT_NAMES that the schema now has: remove them from the list',
    ).toEqual([]);
  });

  it('gives every contract field and argument a type compatible with the contract', () => {
    const { incompatible } = coverage();
    const pending = new Set(PENDING_CONTRACT_TYPES);
    expect(
      incompatible.filter((mismatch) => !pending.has(mismatch)),
      'contract types the schema does not fit',
    ).toEqual([]);
    expect(
      PENDING_CONTRACT_TYPES.filter((mismatch) => !incompatible.includes(mismatch)),
      'mismatches in PENDING_CONTRACT_TYPES that are fixed now: remove them from the list',
    ).toEqual([]);
  });
});
