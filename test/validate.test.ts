import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PNG } from "pngjs";
import { renderColorIcon, renderOutlineIcon } from "../tools/generate-icons";
import { findRepoRoot } from "../tools/lib/repo-root";
import { ENVIRONMENT } from "../src/config";
import { checkBicep } from "../tools/validate/bicep";
import { checkEntraApp } from "../tools/validate/entra-app";
import { CHECKS } from "../tools/validate/checks";
import { checkIcons } from "../tools/validate/icons";
import { checkManifest } from "../tools/validate/manifest";
import { checkOperationsDoc } from "../tools/validate/operations-doc";
import type { Problem } from "../tools/validate/problem";
import { checkTeamsappYaml } from "../tools/validate/teamsapp-yaml";

const repoRoot = findRepoRoot(__dirname);

/** What the checks read, copied so each test can break its own copy. */
const VALIDATED_PATHS = [
  "aad.manifest.json",
  "appPackage/manifest.json",
  "appPackage/color.png",
  "appPackage/outline.png",
  "docs/operations.md",
  "env",
  "infra",
  "teamsapp.yml",
  "teamsapp.local.yml",
  "teamsapp.testtool.yml",
];

function copyRepo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-validate-"));
  for (const relative of VALIDATED_PATHS) {
    fs.cpSync(path.join(repoRoot, relative), path.join(dir, relative), { recursive: true });
  }
  fs.writeFileSync(path.join(dir, "package.json"), "{}\n");
  return dir;
}

/** Rewrites a file of the copy; fails the test if the edit changed nothing (so a stale edit cannot pass silently). */
function edit(dir: string, relative: string, change: (text: string) => string): void {
  const file = path.join(dir, relative);
  const before = fs.readFileSync(file, "utf8");
  const after = change(before);
  assert.notEqual(after, before, `the edit of ${relative} changed nothing`);
  fs.writeFileSync(file, after);
}

function editJson(dir: string, relative: string, change: (json: any) => void): void {
  edit(dir, relative, (text) => {
    const json = JSON.parse(text);
    change(json);
    return JSON.stringify(json, null, 2);
  });
}

function assertProblem(problems: Problem[], file: string, ...fragments: (string | RegExp)[]): void {
  const match = problems.find(
    (problem) =>
      problem.file === file &&
      fragments.every((fragment) => (typeof fragment === "string" ? problem.message.includes(fragment) : fragment.test(problem.message))),
  );
  assert.ok(match, `expected a problem in ${file} mentioning ${fragments.join(" + ")}; got:\n${JSON.stringify(problems, null, 2)}`);
}

function writePng(file: string, width: number, height: number, pixel: (x: number, y: number) => [number, number, number, number]): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixel(x, y).forEach((value, channel) => (png.data[(y * width + x) * 4 + channel] = value));
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

describe("npm run validate", () => {
  let dir: string;
  beforeEach(() => {
    dir = copyRepo();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("on the real repo", () => {
    for (const check of CHECKS) {
      it(`passes the ${check.name} check`, () => {
        assert.deepEqual(check.run(repoRoot), []);
      });
    }
  });

  describe("the CLI", () => {
    const runValidate = (root: string) =>
      spawnSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "tools/validate.ts"), "--root", root], {
        cwd: repoRoot,
        encoding: "utf8",
      });

    it("prints one summary line per check and exits 0 when all pass", () => {
      const result = runValidate(dir);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(
        result.stdout.trim().split("\n").map((line) => line.split(":")[0]),
        CHECKS.map((check) => `✓ ${check.name}`),
      );
    });

    it("prints every problem with its file and exits 1", () => {
      editJson(dir, "infra/azure.parameters.json", (json) => {
        json.parameters.foo = { value: "bar" };
      });
      fs.rmSync(path.join(dir, "appPackage/outline.png"));
      const result = runValidate(dir);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /✗ bicep: infra\/azure\.parameters\.json: parameter 'foo' is not declared in infra\/azure\.bicep/);
      assert.match(result.stderr, /✗ icons: appPackage\/outline\.png: file not found/);
      assert.match(result.stderr, /2 problem\(s\) found/);
    });
  });

  describe("entra-app (the tab's single sign-on)", () => {
    it("reports an app role Herald checks that the Entra app does not declare", () => {
      editJson(dir, "aad.manifest.json", (aad) => {
        aad.appRoles = aad.appRoles.filter((r: { value: string }) => r.value !== "Herald.Sender");
      });
      assertProblem(checkEntraApp(dir), "aad.manifest.json", "appRoles does not declare 'Herald.Sender'");
    });

    it("reports Teams not pre-authorized for the tab's scope", () => {
      editJson(dir, "aad.manifest.json", (aad) => {
        aad.preAuthorizedApplications = aad.preAuthorizedApplications.filter((a: { appId: string }) => a.appId !== "5e3ce6c0-2b1f-4285-8d4b-75ee78787346");
      });
      assertProblem(checkEntraApp(dir), "aad.manifest.json", "does not list Teams web");
    });

    it("reports a webApplicationInfo.resource the Entra app does not expose", () => {
      editJson(dir, "appPackage/manifest.json", (manifest) => {
        manifest.webApplicationInfo.resource = "api://elsewhere.example.com/${{AAD_APP_CLIENT_ID}}";
      });
      assertProblem(checkEntraApp(dir), "appPackage/manifest.json", "webApplicationInfo.resource", "identifierUris");
    });

    it("reports a teamsapp yml that provisions the Teams app without creating and updating the Entra app", () => {
      edit(dir, "teamsapp.local.yml", (text) => text.replace(/  - uses: aadApp\/update\n    with:\n      manifestPath: \.\/aad\.manifest\.json\n      outputFilePath: [^\n]+\n/, ""));
      assertProblem(checkEntraApp(dir), "teamsapp.local.yml", "no aadApp/update step");
    });
  });

  describe("manifest", () => {
    it("reports a property of the wrong type, with its path", () => {
      editJson(dir, "appPackage/manifest.json", (manifest) => {
        manifest.bots[0].isNotificationOnly = "no";
      });
      assertProblem(checkManifest(dir), "appPackage/manifest.json", "/bots/0/isNotificationOnly", "must be boolean");
    });

    it("reports a missing required property", () => {
      editJson(dir, "appPackage/manifest.json", (manifest) => {
        delete manifest.developer;
      });
      assertProblem(checkManifest(dir), "appPackage/manifest.json", "missing required property 'developer'");
    });

    it("reports a manifestVersion whose schema does not ship in @microsoft/app-manifest", () => {
      editJson(dir, "appPackage/manifest.json", (manifest) => {
        manifest.manifestVersion = "9.99";
      });
      assertProblem(checkManifest(dir), "appPackage/manifest.json", "manifestVersion '9.99' has no schema");
    });

    it("reports a placeholder that an environment does not define", () => {
      editJson(dir, "appPackage/manifest.json", (manifest) => {
        manifest.name.full = "Herald ${{HERALD_EDITION}}";
      });
      assertProblem(checkManifest(dir), "appPackage/manifest.json", "${{HERALD_EDITION}} is not defined in env/.env.dev");
    });

    it("checks the manifest with each environment's values substituted", () => {
      // 30 characters is name.short's limit; this suffix only breaks it in the dev environment.
      edit(dir, "env/.env.dev", (text) => text.replace("APP_NAME_SUFFIX=-dev", "APP_NAME_SUFFIX=-a-suffix-far-too-long-for-teams"));
      const problems = checkManifest(dir);
      assertProblem(problems, "appPackage/manifest.json", "/name/short", "(env dev)");
      assert.equal(problems.length, 1, JSON.stringify(problems));
    });
  });

  describe("icons", () => {
    it("reports a coloured pixel in outline.png, with its position", () => {
      const file = path.join(dir, "appPackage/outline.png");
      const outline = PNG.sync.read(fs.readFileSync(file));
      const i = (5 * 32 + 7) * 4;
      outline.data[i] = 255;
      outline.data[i + 1] = 0;
      outline.data[i + 2] = 0;
      outline.data[i + 3] = 255;
      fs.writeFileSync(file, PNG.sync.write(outline));
      assertProblem(checkIcons(dir), "appPackage/outline.png", "only white or transparent", "(7, 5) is rgb(255, 0, 0)");
    });

    it("reports an outline.png without transparency", () => {
      writePng(path.join(dir, "appPackage/outline.png"), 32, 32, () => [255, 255, 255, 255]);
      assertProblem(checkIcons(dir), "appPackage/outline.png", "no transparent pixels");
    });

    it("reports a color.png of the wrong size", () => {
      writePng(path.join(dir, "appPackage/color.png"), 100, 120, () => [79, 82, 178, 255]);
      assertProblem(checkIcons(dir), "appPackage/color.png", "must be 192×192 pixels, is 100×120");
    });

    it("the committed icons are what tools/generate-icons.ts draws", () => {
      assert.ok(renderColorIcon().equals(fs.readFileSync(path.join(repoRoot, "appPackage/color.png"))));
      assert.ok(renderOutlineIcon().equals(fs.readFileSync(path.join(repoRoot, "appPackage/outline.png"))));
    });

    it("reports an icon the manifest names but which does not exist", () => {
      fs.rmSync(path.join(dir, "appPackage/color.png"));
      assertProblem(checkIcons(dir), "appPackage/color.png", "file not found");
    });
  });

  describe("teamsapp yaml", () => {
    it("reports an unknown action with its step and line", () => {
      edit(dir, "teamsapp.yml", (text) => text.replace("uses: teamsApp/validateAppPackage", "uses: teamsApp/validateAppPackages"));
      assertProblem(checkTeamsappYaml(dir), "teamsapp.yml", /^provision step \d+ \(line \d+\): unknown action 'teamsApp\/validateAppPackages'$/);
    });

    it("reports a missing required field of an action", () => {
      edit(dir, "teamsapp.yml", (text) => text.replace(/^\s+resourceId: \$\{\{BOT_AZURE_APP_SERVICE_RESOURCE_ID\}\}\n/m, ""));
      const problems = checkTeamsappYaml(dir);
      assertProblem(problems, "teamsapp.yml", "deploy step 3", "azureAppService/zipDeploy", "with: missing required property 'resourceId'");
      assert.equal(problems.length, 1, JSON.stringify(problems));
    });

    it("checks teamsapp.local.yml too", () => {
      edit(dir, "teamsapp.local.yml", (text) => text.replace("botPassword: SECRET_BOT_PASSWORD", "botSecret: SECRET_BOT_PASSWORD"));
      const problems = checkTeamsappYaml(dir);
      assertProblem(problems, "teamsapp.local.yml", "botAadApp/create", "unknown property 'botSecret'");
      assertProblem(problems, "teamsapp.local.yml", "botAadApp/create", "missing required property 'botPassword'");
    });

    it("reports a version without a schema", () => {
      edit(dir, "teamsapp.testtool.yml", (text) => text.replace(/^version: v1\.8$/m, "version: v9.9"));
      assertProblem(checkTeamsappYaml(dir), "teamsapp.testtool.yml", "version 'v9.9' has no schema");
    });

    it("reports YAML syntax errors with their line", () => {
      edit(dir, "teamsapp.yml", (text) => text.replace("provision:\n", "provision:\n  - uses: [unclosed\n"));
      assertProblem(checkTeamsappYaml(dir), "teamsapp.yml", /^line \d+: YAML syntax error/);
    });
  });

  describe("bicep", () => {
    it("reports a parameter that azure.bicep does not declare", () => {
      editJson(dir, "infra/azure.parameters.json", (json) => {
        json.parameters.foo = { value: "bar" };
      });
      const problems = checkBicep(dir);
      assert.deepEqual(problems, [
        { file: "infra/azure.parameters.json", message: "parameter 'foo' is not declared in infra/azure.bicep" },
      ]);
    });

    it("reports a parameter without default that the parameters file does not give", () => {
      editJson(dir, "infra/azure.parameters.json", (json) => {
        delete json.parameters.botDisplayName;
      });
      assertProblem(checkBicep(dir), "infra/azure.bicep", "parameter 'botDisplayName'", "has no default value");
    });

    it("reports a syntax error with its line", () => {
      edit(dir, "infra/botRegistration/azurebot.bicep", (text) => text.replace("param botAppDomain string", "param botAppDomain string = )"));
      const lines = fs.readFileSync(path.join(dir, "infra/botRegistration/azurebot.bicep"), "utf8").split("\n");
      const line = lines.findIndex((text) => text.includes("param botAppDomain")) + 1;
      assertProblem(checkBicep(dir), "infra/botRegistration/azurebot.bicep", `line ${line}, column 29: syntax error: unexpected ')'`);
    });

    it("reports an output teamsapp.yml reads after arm/deploy that azure.bicep lacks", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace(/^output BOT_AZURE_APP_SERVICE_RESOURCE_ID .*\n/m, ""));
      assertProblem(checkBicep(dir), "infra/azure.bicep", "${{BOT_AZURE_APP_SERVICE_RESOURCE_ID}}", "no output 'BOT_AZURE_APP_SERVICE_RESOURCE_ID'");
    });

    it("reports an output the manifest needs (BOT_DOMAIN) that azure.bicep lacks", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace(/^output BOT_DOMAIN .*\n/m, ""));
      assertProblem(checkBicep(dir), "infra/azure.bicep", "no output 'BOT_DOMAIN'");
    });

    it("reports an app setting Herald reads that the Web App does not set", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace("name: 'HERALD_STORE'", "name: 'HERALD_STORAGE'"));
      assertProblem(checkBicep(dir), "infra/azure.bicep", "does not set app setting 'HERALD_STORE'");
    });

    it("reports a parameters-file placeholder that an env file of teamsapp.yml does not define", () => {
      edit(dir, "env/.env.dev", (text) => text.replace(/^TEAMS_APP_PUBLISHED_APP_ID=\n/m, ""));
      assertProblem(checkBicep(dir), "infra/azure.parameters.json", "${{TEAMS_APP_PUBLISHED_APP_ID}} is not defined in env/.env.dev");
    });

    it("reports a variable of ENVIRONMENT (src/config.ts) that the Web App does not get, with how to pass it", () => {
      const problems = checkBicep(dir, { ...ENVIRONMENT, HERALD_NEW_SETTING: { azure: "parameter" } });
      assertProblem(problems, "infra/azure.bicep", "does not set app setting 'HERALD_NEW_SETTING'", "${{HERALD_NEW_SETTING}}");
    });

    it("reports an app setting Herald does not read", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace("name: 'HERALD_TENANT_RATE'", "name: 'HERALD_TENANT_RATES'"));
      const problems = checkBicep(dir);
      assertProblem(problems, "infra/azure.bicep", "sets app setting 'HERALD_TENANT_RATES'", "does not read");
      assertProblem(problems, "infra/azure.bicep", "does not set app setting 'HERALD_TENANT_RATE'");
    });

    it("reports a setting ENVIRONMENT keeps out of Azure (BOT_PASSWORD: the bot is a managed identity)", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace("name: 'BOT_TYPE'", "name: 'BOT_PASSWORD'"));
      assertProblem(checkBicep(dir), "infra/azure.bicep", "sets app setting 'BOT_PASSWORD'", "managed identity");
    });

    it("reports a parameter setting the env files cannot set: a fixed value, or a parameter the parameters file leaves out", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace("value: schedulesFile", "value: 'schedules.yaml'"));
      editJson(dir, "infra/azure.parameters.json", (json) => {
        delete json.parameters.tenantRate;
      });
      const problems = checkBicep(dir);
      assertProblem(problems, "infra/azure.bicep", "app setting 'HERALD_SCHEDULES_FILE'", "must be a parameter");
      assertProblem(problems, "infra/azure.parameters.json", "parameter 'tenantRate' (app setting 'HERALD_TENANT_RATE') is not filled from an env file");
    });

    it("reports a file that loadTextContent loads but does not exist", () => {
      fs.rmSync(path.join(dir, "infra/monitoring/queries/outcomes.kql"));
      assertProblem(checkBicep(dir), "infra/monitoring/monitoring.bicep", "loads queries/outcomes.kql, which does not exist");
    });

    it("reports a module parameter the module requires but is not passed", () => {
      edit(dir, "infra/azure.bicep", (text) => text.replace(/^\s+identityTenantId: identity\.properties\.tenantId\n/m, ""));
      assertProblem(checkBicep(dir), "infra/azure.bicep", "module 'azureBotRegistration'", "does not pass 'identityTenantId'");
    });
  });

  describe("operations-queries", () => {
    it("reports a workbook or alert query that docs/operations.md no longer quotes as deployed", () => {
      assert.deepEqual(checkOperationsDoc(dir), []);
      edit(dir, "infra/monitoring/queries/alert-no-heartbeat.kql", (text) => text.replace('"herald.up"', '"herald.alive"'));
      assert.deepEqual(checkOperationsDoc(dir), [{
        file: "docs/operations.md",
        message: "does not quote infra/monitoring/queries/alert-no-heartbeat.kql as it is (a ```kusto block with the file's exact text)",
      }]);
    });
  });
});
