"""Reading the old lists: CSV files (any column order, common header names recognised, `--map` to say
otherwise) and vCard files (app/importer/vcard.py), into SourceRecords (app/importer/records.py).

A whole file that cannot be read (empty, binary, an encoding that is neither UTF-8 nor Windows-1252) is a
FileError: nothing of it is imported. A row that cannot be read (too few columns) is a Problem with its line
number; the other rows are imported. No value is dropped: what has no contact field (a company, a second
phone, a postcode the address lacks, a column nobody knows) is kept as an extra, which ends up in the
contact's notes.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from app.importer.records import Problem, RecordBuilder, SourceRecord
from app.importer.vcard import read_vcards

__all__ = ["FileError", "MappingError", "Problem", "ReadResult", "SourceRecord", "read_file"]

# What a column can be. name/first_name/last_name make the name; address parts are joined line by line;
# "updated" is the record's own time (newer wins); "key" is the record's id in its source; "meta" are the
# shop's own bookkeeping columns of an export (version, created_at, ...), not data; "extra" is kept in notes.
TARGETS: tuple[str, ...] = (
    "name", "first_name", "last_name", "email", "phone", "address", "postcode", "notes",
    "waist_cm", "hip_cm", "length_cm", "updated", "key", "meta", "extra",
)


def header_key(text: str) -> str:
    """'E-mail address' -> 'emailaddress': how headers are compared."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "customer", "customername", "contact", "contactname", "displayname",
             "client", "clientname"),
    "first_name": ("firstname", "givenname", "forename", "first"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "email": ("email", "emailaddress", "mail", "emailaddr"),
    "phone": ("phone", "tel", "telephone", "phonenumber", "telno", "telephonenumber", "mobile", "mob",
              "mobilephone", "mobileno", "cell", "cellphone", "homephone", "workphone", "daytimephone",
              "contactnumber"),
    "address": ("address", "address1", "address2", "address3", "addressline1", "addressline2", "addressline3",
                "street", "streetaddress", "town", "city", "county", "region", "country", "postaladdress",
                "shippingaddress", "deliveryaddress"),
    "postcode": ("postcode", "postalcode", "zip", "zipcode", "postcodezip"),
    "notes": ("notes", "note", "comments", "comment", "remarks", "memo"),
    "waist_cm": ("waist", "waistcm", "waistsize"),
    "hip_cm": ("hip", "hips", "hipcm", "hipscm", "seat"),
    "length_cm": ("length", "lengthcm", "kiltlength", "kiltlengthcm", "drop"),
    "updated": ("updated", "updatedat", "lastupdated", "modified", "lastmodified", "datemodified",
                "lastchanged"),
    "key": ("id", "kiltshopid"),
    "meta": ("createdat", "version", "updatedby", "mergedinto"),
}
HEADER_ALIASES: dict[str, str] = {alias: target for target, aliases in _ALIASES.items() for alias in aliases}


class FileError(Exception):
    """A whole file cannot be imported; the message says why in plain words."""


class MappingError(ValueError):
    """A --map that cannot be used."""


@dataclass
class ReadResult:
    file: str
    source: str
    kind: str  # "CSV" or "vCard"
    encoding: str
    records: list[SourceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # CSV header -> target


# -- mapping -------------------------------------------------------------------------------------------


def parse_map(text: str | None) -> dict[str, str]:
    """'Full name=name,Tel=phone' -> {'fullname': 'name', 'tel': 'phone'}."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        header, sep, target = part.partition("=")
        target = target.strip().lower()
        if not sep or not header.strip():
            raise MappingError(f"--map {part.strip()!r} must look like 'Column name=field'")
        if target not in TARGETS:
            raise MappingError(f"--map {part.strip()!r}: {target!r} is not a field; use one of {', '.join(TARGETS)}")
        mapping[header_key(header)] = target
    return mapping


def target_of(header: str, overrides: dict[str, str]) -> str:
    key = header_key(header)
    return overrides.get(key) or HEADER_ALIASES.get(key) or "extra"


# -- bytes to text -------------------------------------------------------------------------------------


def decode(data: bytes, file: str) -> tuple[str, str]:
    """The text and the encoding used: UTF-8 first, then Windows-1252 (UTF-16 when it has a byte-order mark)."""
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileError(f"{file} is empty: there is nothing to import.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _text_only(data.decode("utf-16"), file), "UTF-16"
        except UnicodeDecodeError:
            raise FileError(f"{file} starts like UTF-16 text but is not readable as it.") from None
    if data.startswith(b"PK\x03\x04"):
        raise FileError(f"{file} is a ZIP archive or a spreadsheet (.xlsx/.ods), not a CSV or vCard file. "
                        "Save it as CSV first.")
    head = data[:8192]
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > len(head) // 20:
        raise FileError(f"{file} is not a text file (it looks like binary data), so it is neither CSV nor vCard.")
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        raise FileError(f"{file} is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02x} at "
                        f"position {exc.start} fits neither); save it as UTF-8 and try again.") from None


def _text_only(text: str, file: str) -> str:
    if "\x00" in text:
        raise FileError(f"{file} is not a text file (it looks like binary data), so it is neither CSV nor vCard.")
    return text


# -- files ---------------------------------------------------------------------------------------------


def source_name(path: Path) -> str:
    """The default source name of a file: its name without the extension ('sales.csv' -> 'sales')."""
    return re.sub(r"[^\w.-]+", "-", path.stem).strip("-") or "import"


def file_date(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def read_file(path: Path, source: str | None = None, overrides: dict[str, str] | None = None,
              source_date: date | datetime | None = None) -> ReadResult:
    """Read one CSV or vCard file. Raises FileError when none of it can be imported."""
    file = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise FileError(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise FileError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    text, encoding = decode(data, file)
    if isinstance(source_date, datetime):
        when = source_date if source_date.tzinfo else source_date.replace(tzinfo=UTC)
    elif isinstance(source_date, date):
        when = datetime(source_date.year, source_date.month, source_date.day, tzinfo=UTC)
    else:
        when = file_date(path)
    name = source or source_name(path)
    if path.suffix.lower() in (".vcf", ".vcard") or text.lstrip().upper().startswith("BEGIN:VCARD"):
        result = ReadResult(file, name, "vCard", encoding)
        result.records, result.problems = read_vcards(text, file, name, when)
        if not result.records and not result.problems:
            raise FileError(f"{file} has no vCards in it (no BEGIN:VCARD ... END:VCARD).")
        return result
    return read_csv(text, file, name, when, encoding, overrides or {})


def guess_delimiter(text: str) -> str:
    """The header line's most frequent of , ; tab | (a comma when none): spreadsheets in some countries
    write semicolons, some exports tabs."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(text: str, file: str, source: str, when: datetime, encoding: str,
             overrides: dict[str, str]) -> ReadResult:
    result = ReadResult(file, source, "CSV", encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=guess_delimiter(text))
    header: list[str] | None = None
    targets: list[str] = []
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                targets = [target_of(h, overrides) for h in header]
                result.columns = dict(zip(header, targets, strict=True))
                if not ({"name", "first_name", "last_name", "email"} & set(targets)):
                    raise FileError(
                        f"{file}: no column holds the name (the columns are {', '.join(header)}). "
                        "Say which one with --map, e.g. --map 'Kunde=name'."
                    )
                continue
            if len(row) > len(header) and not any(cell.strip() for cell in row[len(header):]):
                row = row[:len(header)]
            if len(row) != len(header):
                few = "few" if len(row) < len(header) else "many"
                result.problems.append(Problem(
                    file, line, f"this row has {len(row)} columns but the header has {len(header)} "
                    f"(too {few}), so it was not imported; fix the row and import the file again."))
                continue
            builder = RecordBuilder()
            for label, target, value in zip(header, targets, row, strict=True):
                builder.add(target, label, value)
            if not builder.empty():
                result.records.append(builder.build(source, file, line, when, result.problems))
    except csv.Error as exc:
        raise FileError(f"{file}, line {reader.line_num}: this is not CSV the importer can read ({exc}).") from None
    if header is None:
        raise FileError(f"{file} is empty: there is nothing to import.")
    return result
