//! Parsing `#[derive(Model)]` input into a [`ModelInput`], with errors that point at the
//! attribute or field at fault.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, LitStr, PathArguments, Type};

/// A parsed model.
pub struct ModelInput {
    pub ident: Ident,
    pub table: String,
    pub database: Option<String>,
    pub reading: Option<String>,
    pub fields: Vec<FieldInput>,
    /// Index in `fields` of the key.
    pub primary_key: usize,
    pub auto_increment: bool,
    /// Indexes in `fields` of the shard key (`#[shard_by(..)]`), in the order written.
    pub shard_key: Vec<usize>,
    /// `#[grant(primary_key, generate = "..")]`: Grant generates the key.
    pub generate: Option<Generate>,
    /// `#[connects_to(shards(name(writing = "..", reading = ".."), ..))]`.
    pub shards: Vec<ShardInput>,
}

/// One shard of `connects_to(shards(..))`: its name and the entries serving it.
pub struct ShardInput {
    pub name: String,
    pub writing: String,
    pub reading: Option<String>,
}

/// How Grant generates a key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Generate {
    /// A Snowflake id (`i64`).
    Snowflake,
    /// A UUIDv7 (`uuid::Uuid`).
    UuidV7,
}

/// A parsed field.
pub struct FieldInput {
    pub ident: Ident,
    pub ty: Type,
    /// `T` of an `Option<T>` field.
    pub inner: Option<Type>,
    pub column: String,
    pub skip: bool,
    pub timestamp: Option<TimestampKind>,
}

/// Which automatic timestamp a field is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TimestampKind {
    /// Filled on insert.
    Created = 0,
    /// Filled on insert and update.
    Updated = 1,
}

impl FieldInput {
    /// The field's name without a raw-identifier prefix.
    pub fn name(&self) -> String {
        unraw(&self.ident)
    }
}

fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}

/// Collects several errors so the user sees all of them at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// An attribute's value, and where it was written (for errors about a repeat or a conflict).
struct Seen<T> {
    value: T,
    span: Span,
}

/// Record attribute `name` once; a repeat is an error pointing at the repeat.
fn once<T>(slot: &mut Option<Seen<T>>, value: T, span: Span, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            span,
            format!("`{name}` is given twice; keep one"),
        ));
    }
    *slot = Some(Seen { value, span });
    Ok(())
}

/// What the container says about automatic timestamps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timestamps {
    /// `#[grant(timestamps)]` / `#[grant(timestamps = true)]`: fields named `created_at`
    /// and `updated_at` are filled.
    ByName,
    /// `#[grant(timestamps = false)]`: no field is filled.
    Off,
}

impl ModelInput {
    pub fn from_derive(input: &DeriveInput) -> syn::Result<ModelInput> {
        let mut errors = Errors::default();
        if !input.generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                &input.generics,
                "#[derive(Model)] does not support generic structs",
            ));
        }
        let named = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => named,
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "#[derive(Model)] needs a struct with named fields",
                    ))
                }
            },
            Data::Enum(e) => {
                return Err(syn::Error::new(
                    e.enum_token.span,
                    "#[derive(Model)] needs a struct with named fields, not an enum",
                ))
            }
            Data::Union(u) => {
                return Err(syn::Error::new(
                    u.union_token.span,
                    "#[derive(Model)] needs a struct with named fields, not a union",
                ))
            }
        };

        let mut table = None;
        let mut database: Option<Seen<String>> = None;
        let mut writing: Option<Seen<String>> = None;
        let mut reading: Option<Seen<String>> = None;
        let mut timestamps: Option<Seen<Timestamps>> = None;
        let mut shard_by: Option<Seen<Vec<Ident>>> = None;
        let mut shards: Option<Seen<Vec<ShardInput>>> = None;
        for attr in &input.attrs {
            if attr.path().is_ident("shard_by") {
                let r = attr
                    .parse_args_with(
                        syn::punctuated::Punctuated::<Ident, syn::Token![,]>::parse_terminated,
                    )
                    .map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "expected field names: #[shard_by(customer_id)] or #[shard_by(region, customer_id)]",
                        )
                    })
                    .and_then(|list| {
                        if list.is_empty() {
                            return Err(syn::Error::new_spanned(
                                attr,
                                "#[shard_by()] names no field; expected #[shard_by(customer_id)]",
                            ));
                        }
                        once(
                            &mut shard_by,
                            list.into_iter().collect(),
                            attr.path().span(),
                            "shard_by",
                        )
                    });
                if let Err(e) = r {
                    errors.push(e);
                }
                continue;
            }
            if attr.path().is_ident("grant") {
                let r = attr.parse_nested_meta(|meta| {
                    let span = meta.path.span();
                    if meta.path.is_ident("table") {
                        let v = non_empty(meta.value()?.parse::<LitStr>()?, "table")?;
                        once(&mut table, v, span, "table")?;
                    } else if meta.path.is_ident("database") {
                        let v = non_empty(meta.value()?.parse::<LitStr>()?, "database")?;
                        once(&mut database, v, span, "database")?;
                    } else if meta.path.is_ident("timestamps") {
                        let on = if meta.input.peek(syn::Token![=]) {
                            meta.value()?.parse::<syn::LitBool>()?.value
                        } else {
                            true
                        };
                        let v = if on {
                            Timestamps::ByName
                        } else {
                            Timestamps::Off
                        };
                        once(&mut timestamps, v, span, "timestamps")?;
                    } else {
                        return Err(meta.error(format!(
                            "unknown attribute `{}`; expected `table`, `database` or `timestamps`",
                            path_name(&meta.path)
                        )));
                    }
                    Ok(())
                });
                if let Err(e) = r {
                    errors.push(e);
                }
            } else if attr.path().is_ident("connects_to") {
                let r = attr.parse_nested_meta(|meta| {
                    let span = meta.path.span();
                    if meta.path.is_ident("writing") {
                        let v = non_empty(meta.value()?.parse::<LitStr>()?, "writing")?;
                        once(&mut writing, v, span, "writing")?;
                    } else if meta.path.is_ident("reading") {
                        let v = non_empty(meta.value()?.parse::<LitStr>()?, "reading")?;
                        once(&mut reading, v, span, "reading")?;
                    } else if meta.path.is_ident("shards") {
                        let mut list: Vec<ShardInput> = Vec::new();
                        meta.parse_nested_meta(|shard| {
                            let Some(name) = shard.path.get_ident().map(unraw) else {
                                return Err(shard.error("expected a shard name: shards(shard_one(writing = \"..\"))"));
                            };
                            if list.iter().any(|s| s.name == name) {
                                return Err(shard.error(format!("shard `{name}` is given twice; keep one")));
                            }
                            let shard_span = shard.path.span();
                            let mut w: Option<Seen<String>> = None;
                            let mut r: Option<Seen<String>> = None;
                            shard.parse_nested_meta(|role| {
                                let span = role.path.span();
                                if role.path.is_ident("writing") {
                                    let v = non_empty(role.value()?.parse::<LitStr>()?, "writing")?;
                                    once(&mut w, v, span, "writing")
                                } else if role.path.is_ident("reading") {
                                    let v = non_empty(role.value()?.parse::<LitStr>()?, "reading")?;
                                    once(&mut r, v, span, "reading")
                                } else {
                                    Err(role.error(format!(
                                        "unknown role `{}` for shard `{name}`; expected `writing` or `reading`",
                                        path_name(&role.path)
                                    )))
                                }
                            })?;
                            let Some(w) = w else {
                                return Err(syn::Error::new(
                                    shard_span,
                                    format!("shard `{name}` needs `writing = \"<database>\"`"),
                                ));
                            };
                            list.push(ShardInput {
                                name,
                                writing: w.value,
                                reading: r.map(|r| r.value),
                            });
                            Ok(())
                        })?;
                        if list.is_empty() {
                            return Err(syn::Error::new(span, "`shards()` names no shard; expected shards(shard_one(writing = \"..\"))"));
                        }
                        once(&mut shards, list, span, "shards")?;
                    } else {
                        return Err(meta.error(format!(
                            "unknown role `{}` in connects_to; expected `writing`, `reading` or `shards`",
                            path_name(&meta.path)
                        )));
                    }
                    Ok(())
                });
                if let Err(e) = r {
                    errors.push(e);
                }
            }
        }
        if let Some(Seen { span, .. }) = &shards {
            if database.is_some() || writing.is_some() || reading.is_some() {
                errors.push(syn::Error::new(
                    *span,
                    "`connects_to(shards(..))` names each shard's databases; it cannot be combined with `database`, `writing` or `reading`",
                ));
            }
            if shard_by.is_some() {
                errors.push(syn::Error::new(
                    *span,
                    "a model is sharded either by key (#[shard_by]) over one database's shards, or by scope over `connects_to(shards(..))`; keep one",
                ));
            }
        }
        if let (Some(_), Some(Seen { span, .. })) = (&database, &writing) {
            errors.push(syn::Error::new(
                *span,
                "both #[grant(database)] and #[connects_to(writing)] name the writer; keep one",
            ));
        }

        let mut fields = Vec::new();
        let mut marks = Vec::new();
        let mut marked_key: Option<(usize, bool)> = None;
        let mut generate: Option<Seen<Generate>> = None;
        for (i, f) in named.named.iter().enumerate() {
            let ident = f.ident.clone().expect("named fields have names");
            let mut column: Option<Seen<String>> = None;
            let mut skip: Option<Seen<()>> = None;
            let mut key: Option<Seen<()>> = None;
            let mut manual: Option<Seen<()>> = None;
            let mut generated: Option<Seen<Generate>> = None;
            let mut mark: Option<Seen<TimestampKind>> = None;
            for attr in f.attrs.iter().filter(|a| a.path().is_ident("grant")) {
                let r = attr.parse_nested_meta(|meta| {
                    let span = meta.path.span();
                    if meta.path.is_ident("primary_key") {
                        once(&mut key, (), span, "primary_key")?;
                    } else if meta.path.is_ident("manual") {
                        once(&mut manual, (), span, "manual")?;
                    } else if meta.path.is_ident("generate") {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        let how = match lit.value().as_str() {
                            "snowflake" => Generate::Snowflake,
                            "uuid_v7" => Generate::UuidV7,
                            other => {
                                return Err(syn::Error::new(
                                    lit.span(),
                                    format!("unknown generator `{other}`; expected \"snowflake\" (an i64 key) or \"uuid_v7\" (a Uuid key)"),
                                ))
                            }
                        };
                        once(&mut generated, how, span, "generate")?;
                    } else if meta.path.is_ident("skip") {
                        once(&mut skip, (), span, "skip")?;
                    } else if meta.path.is_ident("rename") {
                        let v = non_empty(meta.value()?.parse::<LitStr>()?, "rename")?;
                        once(&mut column, v, span, "rename")?;
                    } else if meta.path.is_ident("created_at") || meta.path.is_ident("updated_at") {
                        let kind = if meta.path.is_ident("created_at") {
                            TimestampKind::Created
                        } else {
                            TimestampKind::Updated
                        };
                        if let Some(first) = &mark {
                            return Err(syn::Error::new(
                                span,
                                if first.value == kind {
                                    format!("`{}` is given twice; keep one", kind.name())
                                } else {
                                    "a field is either `created_at` or `updated_at`, not both"
                                        .to_string()
                                },
                            ));
                        }
                        mark = Some(Seen { value: kind, span });
                    } else {
                        return Err(meta.error(format!(
                            "unknown attribute `{}`; expected `primary_key`, `manual`, `generate`, `rename`, `skip`, `created_at` or `updated_at`",
                            path_name(&meta.path)
                        )));
                    }
                    Ok(())
                });
                if let Err(e) = r {
                    errors.push(e);
                }
            }
            let (key, manual) = (key.is_some(), manual.is_some());
            if let Some(g) = &generated {
                if !key {
                    errors.push(syn::Error::new(
                        g.span,
                        "`generate` applies to the primary key: write #[grant(primary_key, generate = \"snowflake\")]",
                    ));
                } else if manual {
                    errors.push(syn::Error::new(
                        g.span,
                        "a generated key is not `manual`; keep one of them",
                    ));
                } else {
                    let ok = match g.value {
                        Generate::Snowflake => last_ident(&f.ty).as_deref() == Some("i64"),
                        Generate::UuidV7 => last_ident(&f.ty).as_deref() == Some("Uuid"),
                    };
                    if !ok {
                        errors.push(syn::Error::new_spanned(
                            &f.ty,
                            match g.value {
                                Generate::Snowflake => "a Snowflake key is an `i64`",
                                Generate::UuidV7 => "a UUIDv7 key is a `uuid::Uuid`",
                            },
                        ));
                    }
                    generate = Some(Seen {
                        value: g.value,
                        span: g.span,
                    });
                }
            }
            // A generated key is written by Grant, not the database.
            let generated_key = key && generated.is_some();
            if let Some(m) = &mark {
                if skip.is_some() || key {
                    errors.push(syn::Error::new(
                        m.span,
                        format!(
                            "`{}` fills a stored column: it cannot be on a skipped field or the primary key",
                            m.value.name()
                        ),
                    ));
                }
            }
            let skip = skip.is_some();
            if manual && !key {
                errors.push(syn::Error::new(
                    ident.span(),
                    "`manual` applies to the primary key: write #[grant(primary_key, manual)]",
                ));
            }
            if skip && (key || column.is_some()) {
                errors.push(syn::Error::new(
                    ident.span(),
                    "a skipped field cannot also be the primary key or renamed",
                ));
            }
            if key {
                if let Some((first, _)) = marked_key {
                    errors.push(syn::Error::new(
                        ident.span(),
                        format!(
                            "a second primary key; `{}` is already the key (composite keys are not supported)",
                            unraw(named.named[first].ident.as_ref().expect("named"))
                        ),
                    ));
                } else {
                    marked_key = Some((i, manual || generated_key));
                }
            }
            let name = unraw(&ident);
            marks.push(mark);
            fields.push(FieldInput {
                column: column.map_or_else(|| name.clone(), |c| c.value),
                inner: option_inner(&f.ty).cloned(),
                ty: f.ty.clone(),
                ident,
                skip,
                timestamp: None,
            });
        }
        resolve_timestamps(&mut fields, &marks, timestamps.as_ref(), &mut errors);

        let (primary_key, manual) = match marked_key {
            Some(k) => k,
            None => match fields.iter().position(|f| f.name() == "id" && !f.skip) {
                Some(i) => (i, false),
                None => {
                    errors.push(syn::Error::new(
                        input.ident.span(),
                        "no primary key: mark a field with #[grant(primary_key)] or name it `id`",
                    ));
                    (0, false)
                }
            },
        };
        if let Some(pk) = fields.get(primary_key) {
            if pk.inner.is_some() {
                errors.push(syn::Error::new_spanned(
                    &pk.ty,
                    "a primary key cannot be an Option",
                ));
            }
        }
        let mut seen = std::collections::HashMap::new();
        for f in fields.iter().filter(|f| !f.skip) {
            if let Some(other) = seen.insert(f.column.clone(), f.name()) {
                errors.push(syn::Error::new(
                    f.ident.span(),
                    format!(
                        "column `{}` is also the column of field `{other}`",
                        f.column
                    ),
                ));
            }
        }
        let shard_key = match &shard_by {
            Some(seen) => resolve_shard_key(&seen.value, &fields, &mut errors),
            None => Vec::new(),
        };
        errors.finish()?;

        let auto_increment = !manual && is_integer(&fields[primary_key].ty);
        Ok(ModelInput {
            table: table.map_or_else(|| default_table(&unraw(&input.ident)), |t| t.value),
            database: database.or(writing).map(|d| d.value),
            reading: reading.map(|r| r.value),
            ident: input.ident.clone(),
            fields,
            primary_key,
            auto_increment,
            shard_key,
            generate: generate.map(|g| g.value),
            shards: shards.map(|s| s.value).unwrap_or_default(),
        })
    }
}

/// The fields `#[shard_by(..)]` names, checked: each a known, stored field, once, of a
/// type a resolver can take (integers, text, UUIDs, timestamps and dates; not an Option:
/// a row without its key could not be placed).
fn resolve_shard_key(names: &[Ident], fields: &[FieldInput], errors: &mut Errors) -> Vec<usize> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let wanted = unraw(name);
        let Some(i) = fields.iter().position(|f| f.name() == wanted) else {
            let known: Vec<String> = fields
                .iter()
                .filter(|f| !f.skip)
                .map(|f| f.name())
                .collect();
            errors.push(syn::Error::new(
                name.span(),
                format!(
                    "no field `{wanted}` to shard by; expected one of: {}",
                    known.join(", ")
                ),
            ));
            continue;
        };
        if out.contains(&i) {
            errors.push(syn::Error::new(
                name.span(),
                format!("`{wanted}` is named twice in #[shard_by]; keep one"),
            ));
            continue;
        }
        let f = &fields[i];
        if f.skip {
            errors.push(syn::Error::new(
                name.span(),
                format!(
                    "field `{wanted}` is #[grant(skip)]ped: a shard key must be a stored column"
                ),
            ));
        } else if f.inner.is_some() {
            errors.push(syn::Error::new_spanned(
                &f.ty,
                format!("shard key `{wanted}` cannot be an Option: a row without its key could not be placed on a shard"),
            ));
        } else if !is_shard_key_type(&f.ty) {
            errors.push(syn::Error::new_spanned(
                &f.ty,
                format!("shard key `{wanted}` has a type a resolver cannot take; expected an integer (i16, i32, i64), String, Uuid, DateTime<Utc>, NaiveDateTime or NaiveDate"),
            ));
        }
        out.push(i);
    }
    out
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn is_shard_key_type(ty: &Type) -> bool {
    let Type::Path(p) = ty else {
        return false;
    };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    matches!(
        last.ident.to_string().as_str(),
        "i16" | "i32" | "i64" | "String" | "Uuid" | "DateTime" | "NaiveDateTime" | "NaiveDate"
    )
}

impl TimestampKind {
    fn name(self) -> &'static str {
        match self {
            TimestampKind::Created => "created_at",
            TimestampKind::Updated => "updated_at",
        }
    }
}

/// Decide which fields are automatic timestamps: the fields marked `#[grant(created_at)]` /
/// `#[grant(updated_at)]`, and with `#[grant(timestamps)]` the fields so named. At most one
/// field of each kind; `#[grant(timestamps = false)]` admits no mark.
fn resolve_timestamps(
    fields: &mut [FieldInput],
    marks: &[Option<Seen<TimestampKind>>],
    container: Option<&Seen<Timestamps>>,
    errors: &mut Errors,
) {
    let mut chosen: [Option<usize>; 2] = [None, None];
    for (i, mark) in marks.iter().enumerate() {
        let Some(mark) = mark else { continue };
        if let Some(Seen {
            value: Timestamps::Off,
            span,
        }) = container
        {
            let mut e = syn::Error::new(
                mark.span,
                format!(
                    "`{}` conflicts with #[grant(timestamps = false)] on the struct",
                    mark.value.name()
                ),
            );
            e.combine(syn::Error::new(*span, "timestamps turned off here"));
            errors.push(e);
            continue;
        }
        let slot = &mut chosen[mark.value as usize];
        match slot {
            Some(first) => errors.push(syn::Error::new(
                mark.span,
                format!(
                    "a second `{}` timestamp; field `{}` already is one",
                    mark.value.name(),
                    fields[*first].name()
                ),
            )),
            None => *slot = Some(i),
        }
    }
    if let Some(Seen {
        value: Timestamps::ByName,
        span,
    }) = container
    {
        let mut found = false;
        for kind in [TimestampKind::Created, TimestampKind::Updated] {
            let named = fields
                .iter()
                .position(|f| !f.skip && f.name() == kind.name());
            match (chosen[kind as usize], named) {
                (None, Some(i)) => {
                    chosen[kind as usize] = Some(i);
                    found = true;
                }
                (Some(marked), Some(i)) if marked != i => {
                    found = true;
                    errors.push(syn::Error::new(
                        fields[i].ident.span(),
                        format!(
                            "with #[grant(timestamps)], field `{}` is the `{}` timestamp, but field `{}` is marked as one too; keep one",
                            fields[i].name(),
                            kind.name(),
                            fields[marked].name()
                        ),
                    ));
                }
                (Some(_), _) => found = true,
                (None, None) => {}
            }
        }
        if !found {
            errors.push(syn::Error::new(
                *span,
                "#[grant(timestamps)] needs a field named `created_at` or `updated_at` (or mark a field #[grant(created_at)] / #[grant(updated_at)])",
            ));
        }
    }
    for kind in [TimestampKind::Created, TimestampKind::Updated] {
        if let Some(i) = chosen[kind as usize] {
            fields[i].timestamp = Some(kind);
        }
    }
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn non_empty(lit: LitStr, what: &str) -> syn::Result<String> {
    let v = lit.value();
    if v.trim().is_empty() {
        Err(syn::Error::new(
            lit.span(),
            format!("`{what}` cannot be empty"),
        ))
    } else {
        Ok(v)
    }
}

/// `T` when `ty` is `Option<T>` (also `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(t)) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

fn is_integer(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .is_some_and(|i| i == "i16" || i == "i32" || i == "i64"),
        _ => false,
    }
}

/// `UserProfile` -> `user_profiles`, `Category` -> `categories`, `Box` -> `boxes`.
fn default_table(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    if let Some(stem) = snake.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if snake.ends_with('s')
        || snake.ends_with('x')
        || snake.ends_with("ch")
        || snake.ends_with("sh")
    {
        return format!("{snake}es");
    }
    snake + "s"
}

#[cfg(test)]
mod tests {
    use super::default_table;

    #[test]
    fn table_names() {
        assert_eq!(default_table("User"), "users");
        assert_eq!(default_table("UserProfile"), "user_profiles");
        assert_eq!(default_table("Category"), "categories");
        assert_eq!(default_table("Day"), "days");
        assert_eq!(default_table("Box"), "boxes");
        assert_eq!(default_table("Address"), "addresses");
    }
}
