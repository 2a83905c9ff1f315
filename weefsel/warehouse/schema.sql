-- The weefsel warehouse (DuckDB). Rebuilt atomically from the publishers' sources;
-- safe to throw away. Documented in docs/warehouse.md.

-- Every area at every level. Codes are CBS codes without padding (NL00, PV24, GM0034,
-- WK003401, BU00340101); named regions without a CBS code (police basisteams) get a
-- stable code 'RG:<level>:<name>' and their member gemeenten in area_members.
CREATE TABLE areas (
    code            VARCHAR PRIMARY KEY,
    level           VARCHAR NOT NULL,      -- land | provincie | gemeente | wijk | buurt | named level
    name            VARCHAR,
    gemeente_code   VARCHAR,               -- GMxxxx for gemeente/wijk/buurt
    wijk_code       VARCHAR,               -- WKxxxxxx for buurt
    provincie_code  VARCHAR,               -- PVxx where known
    vintage         INTEGER,               -- year of the boundary/classification
    geom_rd         BLOB,                  -- WKB, EPSG:28992 (RD New); NULL where no polygon is known
    source          VARCHAR,               -- table/file that defined the area
    geom_quality    VARCHAR,               -- exact | generalised | approximate | NULL (no polygon)
    geom_note       VARCHAR                -- Dutch note on the polygon, or why there is none
);

-- Membership of named regions (Veiligheidsmonitor basisteams, user groups).
CREATE TABLE area_members (
    region_code     VARCHAR NOT NULL,
    member_code     VARCHAR NOT NULL,
    PRIMARY KEY (region_code, member_code)
);

-- Long-form observations. 'breakdown' keeps a sub-population apart (e.g. 'leeftijd=65+');
-- lower/upper hold published confidence bounds where the publisher gives them.
CREATE TABLE observations (
    area_code       VARCHAR NOT NULL,
    period          VARCHAR NOT NULL,      -- '2024', '2023' ...
    variable        VARCHAR NOT NULL,      -- catalogue key (see variables)
    breakdown       VARCHAR NOT NULL DEFAULT '',
    value           DOUBLE,
    lower           DOUBLE,
    upper           DOUBLE,
    source          VARCHAR NOT NULL,      -- table id, e.g. 85984NED
    indeling        INTEGER,               -- boundary vintage of area_code (the current one here)
    method          VARCHAR                -- published | crosswalk:exact | crosswalk:areal | crosswalk:dasymetric
);

-- Values as published on another indeling (e.g. 50090NED on the 2020 buurten), unchanged.
-- They reach `observations` only through `crosswalk`.
CREATE TABLE observations_original (
    area_code       VARCHAR NOT NULL,      -- code of the area in its own indeling
    period          VARCHAR NOT NULL,
    variable        VARCHAR NOT NULL,
    breakdown       VARCHAR NOT NULL DEFAULT '',
    value           DOUBLE,
    lower           DOUBLE,
    upper           DOUBLE,
    source          VARCHAR NOT NULL,
    indeling        INTEGER,
    method          VARCHAR
);

-- Areas of every boundary vintage (indeling) seen in the sources, current ones included.
-- A code reused for another area (Almere WK003402: 2020 district, 2024 De Werven) is two rows.
CREATE TABLE area_vintages (
    code            VARCHAR NOT NULL,
    vintage         INTEGER NOT NULL,
    level           VARCHAR,
    name            VARCHAR,
    gemeente_code   VARCHAR,
    geom_rd         BLOB,                  -- WKB, EPSG:28992; NULL where unknown
    source          VARCHAR,
    PRIMARY KEY (code, vintage)
);

-- From an area of one vintage to the areas of another (docs/warehouse.md, "Crosswalk").
-- weight: share of the from-area (its population, else its surface) that lies in the to-area
-- (sums to 1 per from-area: counts are split by it); target_share: share of the to-area's
-- population (or surface) that comes from the from-area (sums to 1 per to-area: rates are
-- averaged by it); split_share: share of the to-area that comes from from-areas that were split.
CREATE TABLE crosswalk (
    from_code       VARCHAR NOT NULL,
    from_vintage    INTEGER NOT NULL,
    to_code         VARCHAR NOT NULL,
    to_vintage      INTEGER NOT NULL,
    level           VARCHAR NOT NULL,      -- level of the to-area
    method          VARCHAR NOT NULL,      -- exact | areal | dasymetric
    weight          DOUBLE NOT NULL,
    split_share     DOUBLE,
    target_share    DOUBLE,
    note            VARCHAR                -- e.g. 'code reused for another area'
);

-- Variable catalogue: one row per variable key.
CREATE TABLE variables (
    variable        VARCHAR PRIMARY KEY,   -- key used in observations, e.g. 'AantalInwoners'
    stem            VARCHAR NOT NULL,      -- CBS name stem without positional suffix
    title           VARCHAR,
    unit            VARCHAR,
    description     VARCHAR,
    source_table    VARCHAR,
    topic           VARCHAR                -- topic path from DataProperties
);

-- Facilities (meeting places and services) as points in RD New.
CREATE TABLE facilities (
    facility_id     VARCHAR PRIMARY KEY,   -- '<source>:<source_id>'
    type            VARCHAR NOT NULL,      -- weefsel typology key (docs/typology.md)
    name            VARCHAR,
    source          VARCHAR NOT NULL,      -- 'osm', 'registry', ...
    source_id       VARCHAR,
    x_rd            DOUBLE NOT NULL,
    y_rd            DOUBLE NOT NULL,
    capacity        DOUBLE DEFAULT 1,
    area_code       VARCHAR,               -- finest area that contains the point (buurt, else wijk)
    tags            VARCHAR,               -- JSON of the source tags kept
    placement       VARCHAR                -- exact | pc6 | pc4: how the point was placed (NULL = as the source gave it)
);

-- Where every row came from.
CREATE TABLE provenance (
    file            VARCHAR NOT NULL,
    sha256          VARCHAR,
    publisher       VARCHAR,
    licence         VARCHAR,
    table_id        VARCHAR,
    rows_read       BIGINT,
    rows_rejected   BIGINT,
    ingested_at     TIMESTAMP
);

-- The validation report of the build that made this warehouse.
CREATE TABLE validation (
    check_name      VARCHAR NOT NULL,      -- e.g. 'rejected_rows', 'coverage', 'sum_consistency'
    severity        VARCHAR NOT NULL,      -- info | warning | error
    source          VARCHAR,
    level           VARCHAR,
    area_code       VARCHAR,
    variable        VARCHAR,
    expected        DOUBLE,
    observed        DOUBLE,
    message         VARCHAR
);

CREATE TABLE build_info (
    key             VARCHAR PRIMARY KEY,
    value           VARCHAR
);
