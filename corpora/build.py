"""Rebuild the bundled corpora from the US Census 1990 name lists.

Usage (from the repository root):

    python corpora/build.py PATH/TO/names

where PATH/TO/names holds the Census files dist.male.first, dist.female.first and
dist.all.last (format: NAME  frequency%  cumulative%  rank, upper case). Those lists
are works of the US government and in the public domain.

Each output file is lower-cased, one name per line, without duplicates, sorted
alphabetically (training shuffles lines, so the order carries no information).
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def read_census(path):
    names = []
    for line in path.read_text(encoding="ascii").splitlines():
        fields = line.split()
        if fields:
            names.append(fields[0].lower())
    return names


def write(name, names, description, source):
    unique = sorted(set(names))
    text = "\n".join(unique) + "\n"
    (HERE / f"{name}.txt").write_text(text, encoding="utf-8")
    return {
        "name": name,
        "file": f"{name}.txt",
        "lines": len(unique),
        "bytes": len(text.encode("utf-8")),
        "description": description,
        "source": source,
        "licence": "public domain (US Census Bureau, 1990)",
    }


def main(src):
    src = pathlib.Path(src)
    first = read_census(src / "dist.male.first") + read_census(src / "dist.female.first")
    last = read_census(src / "dist.all.last")
    index = [
        write("names", first,
              "US first names, male and female, lower case (the default corpus)",
              "US Census 1990 dist.male.first + dist.female.first"),
        write("surnames", last,
              "US family names, lower case",
              "US Census 1990 dist.all.last"),
    ]
    (HERE / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    for entry in index:
        print(f"{entry['file']}: {entry['lines']} lines, {entry['bytes']} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
