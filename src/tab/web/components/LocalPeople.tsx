/** Local mode without ?as=: the people Herald knows, each a link that opens the tab as them. */
import { useEffect, useState } from "react";
import { Link, Text } from "@fluentui/react-components";

export function LocalPeople() {
  const [people, setPeople] = useState<Array<{ id: string; name?: string }>>();
  useEffect(() => {
    fetch("/tab/api/local/people").then((r) => r.json()).then((body: { items: Array<{ id: string; name?: string }> }) => setPeople(body.items), () => setPeople([]));
  }, []);
  if (!people) return null;
  if (!people.length) return <Text as="p">Herald knows nobody yet: install it in a personal chat (Agents Playground), then reload.</Text>;
  return (
    <nav aria-label="People Herald knows">
      <ul>
        {people.map((p) => (
          <li key={p.id}><Link href={`/tab/?as=${encodeURIComponent(p.id)}`}>{p.name ?? p.id}</Link></li>
        ))}
      </ul>
    </nav>
  );
}
