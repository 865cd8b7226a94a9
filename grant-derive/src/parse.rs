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
    Created,
    Updated,
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
        let mut database: Option<(String, Span)> = None;
        let mut writing: Option<(String, Span)> = None;
        let mut reading = None;
        for attr in &input.attrs {
            if attr.path().is_ident("grant") {
                let r = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("table") {
                        table = Some(non_empty(meta.value()?.parse::<LitStr>()?, "table")?);
                    } else if meta.path.is_ident("database") {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        database = Some((non_empty(lit.clone(), "database")?, lit.span()));
                    } else {
                        return Err(meta.error(format!(
                            "unknown attribute `{}`; expected `table` or `database`",
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
                    if meta.path.is_ident("writing") {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        writing = Some((non_empty(lit.clone(), "writing")?, lit.span()));
                    } else if meta.path.is_ident("reading") {
                        reading = Some(non_empty(meta.value()?.parse::<LitStr>()?, "reading")?);
                    } else {
                        return Err(meta.error(format!(
                            "unknown role `{}` in connects_to; expected `writing` or `reading`",
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
        if let (Some(_), Some((_, span))) = (&database, &writing) {
            errors.push(syn::Error::new(
                *span,
                "both #[grant(database)] and #[connects_to(writing)] name the writer; keep one",
            ));
        }

        let mut fields = Vec::new();
        let mut marked_key: Option<(usize, bool)> = None;
        for (i, f) in named.named.iter().enumerate() {
            let ident = f.ident.clone().expect("named fields have names");
            let mut column = None;
            let mut skip = false;
            let mut key = false;
            let mut manual = false;
            for attr in f.attrs.iter().filter(|a| a.path().is_ident("grant")) {
                let r = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("primary_key") {
                        key = true;
                    } else if meta.path.is_ident("manual") {
                        manual = true;
                    } else if meta.path.is_ident("skip") {
                        skip = true;
                    } else if meta.path.is_ident("rename") {
                        column = Some(non_empty(meta.value()?.parse::<LitStr>()?, "rename")?);
                    } else {
                        return Err(meta.error(format!(
                            "unknown attribute `{}`; expected `primary_key`, `manual`, `rename` or `skip`",
                            path_name(&meta.path)
                        )));
                    }
                    Ok(())
                });
                if let Err(e) = r {
                    errors.push(e);
                }
            }
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
                    marked_key = Some((i, manual));
                }
            }
            let name = unraw(&ident);
            let timestamp = match (skip, name.as_str()) {
                (false, "created_at") => Some(TimestampKind::Created),
                (false, "updated_at") => Some(TimestampKind::Updated),
                _ => None,
            };
            fields.push(FieldInput {
                column: column.unwrap_or_else(|| name.clone()),
                inner: option_inner(&f.ty).cloned(),
                ty: f.ty.clone(),
                ident,
                skip,
                timestamp,
            });
        }

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
        errors.finish()?;

        let auto_increment = !manual && is_integer(&fields[primary_key].ty);
        Ok(ModelInput {
            table: table.unwrap_or_else(|| default_table(&unraw(&input.ident))),
            database: database.or(writing).map(|(name, _)| name),
            reading,
            ident: input.ident.clone(),
            fields,
            primary_key,
            auto_increment,
        })
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
