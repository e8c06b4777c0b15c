/**
 * The fake HubSpot's contact property definitions (GET
 * /crm/v3/properties/contacts): the built-in properties its contacts carry,
 * plus custom ones with long names, as a real portal has hundreds of, whose
 * values the generated contacts hold for some of them.
 */
import { mix } from '../../../sandbox/generated-data.js';

/** A property definition, with the fields HubSpot always returns. */
export interface PropertyDefinition {
  name: string;
  label: string;
  type: 'string' | 'datetime' | 'number' | 'enumeration';
  fieldType: 'text' | 'date' | 'number' | 'select';
  groupName: string;
  description: string;
  hidden: boolean;
  hasUniqueValue: boolean;
  formField: boolean;
  calculated: boolean;
  archived: boolean;
  hubspotDefined?: boolean;
  createdAt: string;
  updatedAt: string;
}

const BUILT_IN: ReadonlyArray<[string, string, PropertyDefinition['type']]> = [
  ['company', 'Company Name', 'string'],
  ['createdate', 'Create Date', 'datetime'],
  ['email', 'Email', 'string'],
  ['firstname', 'First Name', 'string'],
  ['hs_object_id', 'Record ID', 'number'],
  ['lastmodifieddate', 'Last Modified Date', 'datetime'],
  ['lastname', 'Last Name', 'string'],
  ['lifecyclestage', 'Lifecycle Stage', 'enumeration'],
  ['phone', 'Phone Number', 'string'],
];

const STAMP = '2023-01-01T00:00:00.000Z';

function definition(name: string, label: string, type: PropertyDefinition['type'], custom: boolean): PropertyDefinition {
  const fieldType = type === 'datetime' ? 'date' : type === 'number' ? 'number' : type === 'enumeration' ? 'select' : 'text';
  return {
    name,
    label,
    type,
    fieldType,
    groupName: custom ? 'tributary_custom_fields' : 'contactinformation',
    description: custom ? `A custom property (${label}).` : '',
    hidden: false,
    hasUniqueValue: false,
    formField: !custom,
    calculated: false,
    archived: false,
    ...(custom ? {} : { hubspotDefined: true }),
    createdAt: STAMP,
    updatedAt: STAMP,
  };
}

/** The name of custom property `i`: long, as portals' generated and imported ones are (about 60 characters). */
export function customPropertyName(i: number): string {
  return `custom_imported_field_from_the_previous_crm_system_number_${String(i).padStart(4, '0')}`;
}

export class PropertyDefinitions {
  private readonly defined = new Map<string, PropertyDefinition>();
  /** The generated custom properties, by name (their values are computed per contact). */
  readonly customNames: readonly string[];

  constructor(customCount: number) {
    for (const [name, label, type] of BUILT_IN) this.defined.set(name, definition(name, label, type, false));
    const custom: string[] = [];
    for (let i = 0; i < customCount; i++) {
      const name = customPropertyName(i);
      custom.push(name);
      this.defined.set(name, definition(name, `Imported field ${i}`, 'string', true));
    }
    this.customNames = custom;
  }

  /** Every definition, as the endpoint lists them. */
  list(): PropertyDefinition[] {
    return [...this.defined.values()];
  }

  has(name: string): boolean {
    return this.defined.has(name);
  }

  /** Defines a (text) property between runs, as a portal's admin does; contacts have no value for it until set. */
  define(name: string, label = name): PropertyDefinition {
    const d = definition(name, label, 'string', true);
    this.defined.set(name, d);
    return d;
  }

  /** The generated contact's custom values: about one property in three is set. */
  customValues(seed: number, index: number, id: string): Record<string, string> {
    const values: Record<string, string> = {};
    this.customNames.forEach((name, i) => {
      const h = mix(seed, index, i + 1);
      if (h % 3 === 0) values[name] = `value ${i} of ${id}`;
    });
    return values;
  }
}
