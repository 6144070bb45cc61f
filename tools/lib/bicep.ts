import Parser = require("tree-sitter");
import Bicep = require("tree-sitter-bicep");

type SyntaxNode = Parser.SyntaxNode;

export interface BicepParam {
  name: string;
  hasDefault: boolean;
  line: number;
}

export interface BicepResource {
  symbol: string;
  /** e.g. "Microsoft.Web/sites@2023-12-01" */
  type: string;
  body: SyntaxNode | undefined;
  line: number;
}

export interface BicepFile {
  root: SyntaxNode;
  syntaxErrors: { line: number; column: number; message: string }[];
  params: BicepParam[];
  outputs: string[];
  resources: BicepResource[];
  modules: { symbol: string; path: string; body: SyntaxNode | undefined; line: number }[];
}

let parser: Parser | undefined;

function bicepParser(): Parser {
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(Bicep as unknown as Parser.Language);
  }
  return parser;
}

/** The text of a plain string literal ('abc'), or undefined for interpolated strings and other expressions. */
export function literalString(node: SyntaxNode | null | undefined): string | undefined {
  if (!node || node.type !== "string") return undefined;
  const parts = node.namedChildren;
  if (parts.length === 0) return "";
  if (parts.length === 1 && parts[0].type === "string_content") return parts[0].text;
  return undefined;
}

/** The syntax errors tree-sitter recovered from: ERROR nodes (unexpected text) and MISSING nodes (expected text). */
function syntaxErrors(root: SyntaxNode): BicepFile["syntaxErrors"] {
  const errors: BicepFile["syntaxErrors"] = [];
  const visit = (node: SyntaxNode) => {
    if (node.isMissing) {
      errors.push({ ...position(node), message: node.isNamed ? `missing ${node.type}` : `missing "${node.type}"` });
      return;
    }
    if (node.type === "ERROR") {
      const snippet = node.text.split("\n")[0].trim().slice(0, 40);
      errors.push({ ...position(node), message: `unexpected ${snippet ? `'${snippet}'` : "input"}` });
      return; // one message per broken region
    }
    if (node.hasError) node.children.forEach(visit);
  };
  visit(root);
  return errors;
}

function position(node: SyntaxNode) {
  return { line: node.startPosition.row + 1, column: node.startPosition.column + 1 };
}

/** Parses a .bicep file into what the validator cross-checks: params, outputs, resources and modules. */
export function parseBicep(text: string): BicepFile {
  const tree = bicepParser().parse(text);
  const root = tree.rootNode;
  const file: BicepFile = { root, syntaxErrors: syntaxErrors(root), params: [], outputs: [], resources: [], modules: [] };
  for (const node of root.namedChildren) {
    const named = node.namedChildren;
    const symbol = named[0]?.type === "identifier" ? named[0].text : undefined;
    if (!symbol) continue;
    switch (node.type) {
      case "parameter_declaration":
        // param <name> <type> [= <default>]
        file.params.push({ name: symbol, hasDefault: named.length > 2, line: position(node).line });
        break;
      case "output_declaration":
        file.outputs.push(symbol);
        break;
      case "resource_declaration":
        file.resources.push({
          symbol,
          type: literalString(named[1]) ?? "",
          body: named.find((child) => child.type === "object"),
          line: position(node).line,
        });
        break;
      case "module_declaration": {
        const modulePath = literalString(named[1]);
        if (modulePath === undefined) break;
        const body = named.find((child) => child.type === "object");
        file.modules.push({ symbol, path: modulePath, body, line: position(node).line });
        break;
      }
    }
  }
  return file;
}

/** The value nodes of every `key: value` property named `key` anywhere inside `node`. */
export function propertiesNamed(node: SyntaxNode, key: string): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (const property of node.descendantsOfType("object_property")) {
    const [name, value] = property.namedChildren;
    if (name && value && (name.text === key || literalString(name) === key)) found.push(value);
  }
  return found;
}

/** The keys of the object literal directly inside `node` under `key:` (e.g. a module's `params: { … }`). */
export function objectKeys(node: SyntaxNode, key: string): string[] | undefined {
  const value = node.namedChildren
    .filter((property) => property.type === "object_property")
    .find((property) => property.namedChildren[0]?.text === key)?.namedChildren[1];
  if (!value || value.type !== "object") return undefined;
  return value.namedChildren
    .filter((property) => property.type === "object_property")
    .map((property) => literalString(property.namedChildren[0]) ?? property.namedChildren[0]?.text ?? "");
}

/** The `name:` values of the objects in a Web App's `appSettings: [ { name: '…', value: … } ]` arrays. */
export function appSettingNames(resourceBody: SyntaxNode): string[] {
  return appSettings(resourceBody).map((setting) => setting.name);
}

/** The `{ name: '…', value: … }` objects of a Web App's `appSettings` arrays, with each value's expression. */
export function appSettings(resourceBody: SyntaxNode): { name: string; value: SyntaxNode | undefined; line: number }[] {
  const found: { name: string; value: SyntaxNode | undefined; line: number }[] = [];
  for (const settings of propertiesNamed(resourceBody, "appSettings")) {
    if (settings.type !== "array") continue;
    for (const item of settings.namedChildren) {
      if (item.type !== "object") continue;
      let name: string | undefined;
      let value: SyntaxNode | undefined;
      for (const property of item.namedChildren) {
        const [key, val] = property.namedChildren;
        if (key?.text === "name") name = literalString(val);
        if (key?.text === "value") value = val;
      }
      if (name) found.push({ name, value, line: position(item).line });
    }
  }
  return found;
}

/** The paths given to `loadTextContent('…')` / `loadJsonContent('…')` anywhere in the file, with their lines. */
export function loadedFiles(root: SyntaxNode): { path: string; line: number }[] {
  const found: { path: string; line: number }[] = [];
  for (const call of root.descendantsOfType("call_expression")) {
    const [callee, args] = call.namedChildren;
    if (!callee || !/^load(Text|Json|FileAsBase64)Content$/.test(callee.text)) continue;
    const first = args?.namedChildren[0];
    const file = literalString(first);
    if (file !== undefined) found.push({ path: file, line: position(call).line });
  }
  return found;
}
