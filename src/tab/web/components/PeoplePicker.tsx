/** Chooses people from Herald's member directory: type part of a name or UPN, add from the results. */
import { useEffect, useState } from "react";
import { Button, Field, SearchBox, Tag, TagGroup, Text, makeStyles, tokens } from "@fluentui/react-components";
import type { Page, Person } from "../../api-types";
import type { Api } from "../api";

const useStyles = makeStyles({
  results: { listStyleType: "none", padding: 0, margin: `${tokens.spacingVerticalS} 0`, display: "flex", flexDirection: "column", gap: tokens.spacingVerticalXS },
  result: { display: "flex", alignItems: "center", gap: tokens.spacingHorizontalS },
  hint: { color: tokens.colorNeutralForeground2 },
});

export function PeoplePicker({ api, chosen, onChange }: { api: Api; chosen: Person[]; onChange: (people: Person[]) => void }) {
  const styles = useStyles();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Person[]>([]);

  useEffect(() => {
    if (query.trim().length < 2) {
      setResults([]);
      return undefined;
    }
    const timer = setTimeout(() => {
      api.get<Page<Person>>(`directory/people?q=${encodeURIComponent(query)}`).then((page) => setResults(page.items), () => setResults([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [api, query]);

  const isChosen = (p: Person) => chosen.some((c) => c.userId === p.userId);
  return (
    <div>
      <Field label="Find people" hint="Type at least two letters of a name or user name.">
        <SearchBox value={query} onChange={(_e, data) => setQuery(data.value)} />
      </Field>
      {results.length > 0 && (
        <ul className={styles.results} aria-label="People found">
          {results.map((p) => (
            <li key={p.userId} className={styles.result}>
              <Button size="small" disabled={isChosen(p)} onClick={() => onChange([...chosen, p])} aria-label={`Add ${p.name ?? p.upn ?? p.userId}`}>
                {isChosen(p) ? "Added" : "Add"}
              </Button>
              <Text>{p.name ?? p.userId}</Text>
              {p.upn && <Text size={200} className={styles.hint}>{p.upn}</Text>}
            </li>
          ))}
        </ul>
      )}
      {chosen.length > 0 ? (
        <TagGroup aria-label="Chosen people" onDismiss={(_e, data) => onChange(chosen.filter((c) => c.userId !== data.value))}>
          {chosen.map((p) => (
            <Tag key={p.userId} value={p.userId} dismissible dismissIcon={{ "aria-label": `Remove ${p.name ?? p.userId}` }}>{p.name ?? p.userId}</Tag>
          ))}
        </TagGroup>
      ) : <Text size={200} className={styles.hint}>Nobody chosen yet.</Text>}
    </div>
  );
}
