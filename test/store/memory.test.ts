import { MemoryStore } from "../../src/store/memory";
import { describeStoreContract } from "./contract";

describeStoreContract("memory", async () => new MemoryStore());
import { describeInboxContract } from "./inbox-contract";

describeInboxContract("memory", async () => new MemoryStore());
