import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import JSZip from "jszip";
import { AppPackageError, buildAppPackage } from "../tools/app-package";
import { findRepoRoot } from "../tools/lib/repo-root";

const repoRoot = findRepoRoot(__dirname);
const TEAMS_APP_ID = "3f2b9a52-6f0e-4c43-9d3a-1f7a2c5e8b01";
const BOT_ID = "9c1d7e44-2a8b-4f61-b0c3-5d6e7f8091a2";
const AAD_APP_CLIENT_ID = "0e7c1a2b-3d4f-4a5b-8c6d-7e8f9a0b1c2d";

describe("npm run package", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-package-"));
    fs.cpSync(path.join(repoRoot, "env"), path.join(dir, "env"), { recursive: true });
    for (const file of ["manifest.json", "color.png", "outline.png"]) {
      fs.cpSync(path.join(repoRoot, "appPackage", file), path.join(dir, "appPackage", file));
    }
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("zips manifest.json and both icons, every placeholder resolved from env/.env.<env> and its .user file", async () => {
    // Provisioned values as Teams Toolkit leaves them: some in env/.env.dev, some only in the git-ignored .user file.
    const envFile = path.join(dir, "env/.env.dev");
    fs.writeFileSync(envFile, fs.readFileSync(envFile, "utf8").replace(/^TEAMS_APP_ID=$/m, `TEAMS_APP_ID=${TEAMS_APP_ID}`));
    fs.writeFileSync(`${envFile}.user`, `BOT_ID=${BOT_ID}\nAAD_APP_CLIENT_ID=${AAD_APP_CLIENT_ID}\n`);

    const built = await buildAppPackage({ root: dir, env: "dev", processEnv: { BOT_DOMAIN: "herald-dev.azurewebsites.net" } });

    assert.equal(built.zipPath, path.join(dir, "appPackage/build/appPackage.dev.zip"));
    assert.equal(built.manifestPath, path.join(dir, "appPackage/build/manifest.dev.json"));
    assert.deepEqual(built.faked, []);
    const zip = await JSZip.loadAsync(fs.readFileSync(built.zipPath));
    assert.deepEqual(Object.keys(zip.files).sort(), ["color.png", "manifest.json", "outline.png"]);
    const manifestText = await zip.file("manifest.json")!.async("string");
    assert.ok(!manifestText.includes("${{"), manifestText);
    const manifest = JSON.parse(manifestText);
    assert.equal(manifest.id, TEAMS_APP_ID);
    assert.equal(manifest.bots[0].botId, BOT_ID);
    assert.equal(manifest.name.short, "Herald-dev");
    assert.deepEqual(manifest.validDomains, ["herald-dev.azurewebsites.net"]);
    assert.deepEqual(manifest.webApplicationInfo, { id: AAD_APP_CLIENT_ID, resource: `api://herald-dev.azurewebsites.net/${AAD_APP_CLIENT_ID}` });
    assert.equal(manifest.staticTabs[0].contentUrl, "https://herald-dev.azurewebsites.net/tab/");
    assert.equal(fs.readFileSync(built.manifestPath, "utf8"), manifestText);
    const color = await zip.file("color.png")!.async("nodebuffer");
    assert.ok(color.equals(fs.readFileSync(path.join(dir, "appPackage/color.png"))));
  });

  it("fails naming every placeholder an unprovisioned environment leaves unresolved", async () => {
    await assert.rejects(buildAppPackage({ root: dir, env: "local" }), (error: unknown) => {
      assert.ok(error instanceof AppPackageError);
      for (const name of ["TEAMS_APP_ID", "BOT_ID", "BOT_DOMAIN", "AAD_APP_CLIENT_ID"]) {
        assert.match(error.message, new RegExp(`\\$\\{\\{${name}\\}\\} \\(empty in env/\\.env\\.local\\)`));
      }
      assert.match(error.message, /--allow-placeholders/);
      return true;
    });
    assert.ok(!fs.existsSync(path.join(dir, "appPackage/build/appPackage.local.zip")));
  });

  it("with allowPlaceholders fills fake ids and still produces a schema-valid package", async () => {
    const built = await buildAppPackage({ root: dir, env: "testtool", allowPlaceholders: true });
    assert.deepEqual(built.faked.sort(), ["AAD_APP_CLIENT_ID", "BOT_DOMAIN", "BOT_ID", "TEAMS_APP_ID"]);
    const manifest = JSON.parse(fs.readFileSync(built.manifestPath, "utf8"));
    assert.match(manifest.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(manifest.id, manifest.bots[0].botId);
  });

  it("fails clearly for an environment without an env file", async () => {
    await assert.rejects(buildAppPackage({ root: dir, env: "prod" }), /env\/\.env\.prod not found \(environments: dev, local, testtool\)/);
  });
});
