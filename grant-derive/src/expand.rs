//! Generating the `grant::Model` implementation from a parsed [`ModelInput`].

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::parse::{FieldInput, ModelInput, TimestampKind};

pub fn expand(m: &ModelInput) -> TokenStream {
    let ident = &m.ident;
    let name = ident.to_string();
    let table = &m.table;
    let columns: Vec<&FieldInput> = m.fields.iter().filter(|f| !f.skip).collect();
    let key_field = &m.fields[m.primary_key];
    let key_ident = &key_field.ident;
    let key_ty = &key_field.ty;
    let key_column = &key_field.column;
    let key_index = columns
        .iter()
        .position(|f| f.ident == key_field.ident)
        .expect("the key is a column");
    let auto = m.auto_increment;
    let shard_entries = m.shards.iter().map(|s| {
        let (name, writing) = (&s.name, &s.writing);
        let reading = opt_str(&s.reading);
        quote! {
            ::grant::ShardEntry { name: #name, writing: #writing, reading: #reading }
        }
    });
    let shard_key = m.shard_key.iter().map(|&i| {
        let field = &m.fields[i];
        columns
            .iter()
            .position(|f| f.ident == field.ident)
            .expect("the shard key is a column")
    });
    let database = opt_str(&m.database);
    let reading = opt_str(&m.reading);

    let handles = columns.iter().map(|f| {
        let konst = format_ident!("{}", f.name().to_uppercase(), span = f.ident.span());
        let handle_ty = f.inner.as_ref().unwrap_or(&f.ty);
        let column = &f.column;
        let doc = format!("The `{column}` column of `{table}`.");
        // Spanned at the type so an unsupported type's error points at the field.
        let init = quote_spanned! {handle_ty.span()=> ::grant::Column::new(#column) };
        quote! {
            #[doc = #doc]
            pub const #konst: ::grant::Column<#ident, #handle_ty> = #init;
        }
    });

    // Every use of a field's type below is `<#ty as Trait>` carrying the type's span, so an
    // unsupported type (`ColumnType`'s `on_unimplemented`) or a `created_at`/`updated_at`
    // that can't hold a time (`Timestamp`) is reported at the field's type, and rustc
    // merges the repeats (the column handle's `Column::new` bound adds one more).
    let metas = columns.iter().map(|f| {
        let ty = &f.ty;
        let column = &f.column;
        let field = f.name();
        quote! {
            ::grant::ColumnMeta {
                name: #column,
                field: #field,
                sql_type: <#ty as ::grant::ColumnType>::SQL_TYPE,
                nullable: <#ty as ::grant::ColumnType>::NULLABLE,
            }
        }
    });
    let n_columns = columns.len();

    let values = columns.iter().map(|f| {
        let id = &f.ident;
        let ty = &f.ty;
        let push = quote_spanned! {ty.span()=>
            out.push(<#ty as ::grant::ColumnType>::to_value(&self.#id));
        };
        if f.ident == key_field.ident {
            quote! { if with_key { #push } }
        } else {
            push
        }
    });
    let bind_refs = columns.iter().map(|f| {
        let id = &f.ident;
        let ty = &f.ty;
        let push = quote_spanned! {ty.span()=>
            out.push(<#ty as ::grant::ColumnType>::to_bind_ref(&self.#id));
        };
        if f.ident == key_field.ident {
            quote! { if with_key { #push } }
        } else {
            push
        }
    });
    let timestamps = m.fields.iter().any(|f| f.timestamp.is_some());

    let snowflake = m.generate == Some(crate::parse::Generate::Snowflake);
    let generate = match m.generate {
        None => quote! { ::core::option::Option::None },
        Some(crate::parse::Generate::Snowflake) => {
            quote! { ::core::option::Option::Some(::grant::Generate::Snowflake) }
        }
        Some(crate::parse::Generate::UuidV7) => {
            quote! { ::core::option::Option::Some(::grant::Generate::UuidV7) }
        }
    };
    let set_uuid = if m.generate == Some(crate::parse::Generate::UuidV7) {
        quote! {
            fn set_generated_uuid(&mut self, id: ::grant::__private::uuid::Uuid) -> ::grant::Result<()> {
                self.#key_ident = id;
                ::core::result::Result::Ok(())
            }
        }
    } else {
        quote! {}
    };
    let set_generated = if auto || snowflake {
        quote! {
            self.#key_ident = ::grant::__private::generated_key::<#key_ty>(#name, #key_column, key)?;
            ::core::result::Result::Ok(())
        }
    } else {
        quote! {
            let _ = key;
            ::core::result::Result::Ok(())
        }
    };

    let touches = m.fields.iter().filter_map(|f| {
        let id = &f.ident;
        let ty = &f.ty;
        let set = quote_spanned! {ty.span()=> <#ty as ::grant::Timestamp>::set_now };
        match f.timestamp? {
            TimestampKind::Created => Some(quote! {
                if inserting { #set(&mut self.#id, now); }
            }),
            TimestampKind::Updated => Some(quote! {
                #set(&mut self.#id, now);
            }),
        }
    });

    let decode = |method: &str| {
        // MariaDB/MySQL: by name through the row's own columns too (see `MySqlName`).
        let mysql = method == "decode_mysql";
        let method = format_ident!("{}", method);
        let mut position = 0usize;
        let inits = m.fields.iter().map(|f| {
            let id = &f.ident;
            if f.skip {
                return quote! { #id: ::core::default::Default::default() };
            }
            let ty = &f.ty;
            let column = &f.column;
            let index = position;
            position += 1;
            let by_name = if mysql {
                quote! { ::grant::__private::MySqlName(#column) }
            } else {
                quote! { #column }
            };
            quote! {
                #id: if by_name {
                    <#ty as ::grant::ColumnType>::#method(row, #by_name)
                } else {
                    <#ty as ::grant::ColumnType>::#method(row, #index)
                }
                .map_err(|e| ::grant::__private::decode_error(#name, #column, e))?
            }
        });
        quote! { ::core::result::Result::Ok(Self { #(#inits,)* }) }
    };
    let from_pg = decode("decode_pg");
    let from_mysql = decode("decode_mysql");
    let from_sqlite = decode("decode_sqlite");

    quote! {
        impl #ident {
            #(#handles)*
        }

        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            static __GRANT_STATEMENTS: ::grant::StatementCache = ::grant::StatementCache::new();
            static __GRANT_COLUMNS: [::grant::ColumnMeta; #n_columns] = [#(#metas),*];
            static __GRANT_META: ::grant::ModelMeta = ::grant::ModelMeta {
                name: #name,
                table: #table,
                columns: &__GRANT_COLUMNS,
                primary_key: #key_index,
                auto_increment: #auto,
                shard_key: &[#(#shard_key),*],
                generate: #generate,
                shards: &[#(#shard_entries),*],
                database: #database,
                reading: #reading,
                timestamps: #timestamps,
                statements: &__GRANT_STATEMENTS,
            };

            impl ::grant::Model for #ident {
                type Key = #key_ty;

                const META: &'static ::grant::ModelMeta = &__GRANT_META;

                #[inline]
                fn key(&self) -> #key_ty {
                    ::core::clone::Clone::clone(&self.#key_ident)
                }

                fn push_values(&self, out: &mut ::std::vec::Vec<::grant::Value>, with_key: bool) {
                    #(#values)*
                }

                fn push_bind_refs<'grant_a>(&'grant_a self, out: &mut ::std::vec::Vec<::grant::BindRef<'grant_a>>, with_key: bool) {
                    #(#bind_refs)*
                }

                fn set_key(&mut self, key: #key_ty) {
                    self.#key_ident = key;
                }

                fn set_generated_key(&mut self, key: i128) -> ::grant::Result<()> {
                    #set_generated
                }

                #set_uuid

                #[allow(unused_variables)]
                fn touch(&mut self, now: ::grant::__private::chrono::DateTime<::grant::__private::chrono::Utc>, inserting: bool) {
                    #(#touches)*
                }

                fn from_pg_row(row: &::grant::__private::sqlx::postgres::PgRow, by_name: bool) -> ::grant::Result<Self> {
                    #from_pg
                }

                fn from_mysql_row(row: &::grant::__private::sqlx::mysql::MySqlRow, by_name: bool) -> ::grant::Result<Self> {
                    #from_mysql
                }

                fn from_sqlite_row(row: &::grant::__private::sqlx::sqlite::SqliteRow, by_name: bool) -> ::grant::Result<Self> {
                    #from_sqlite
                }
            }
        };
    }
}

fn opt_str(v: &Option<String>) -> TokenStream {
    match v {
        Some(s) => quote! { ::core::option::Option::Some(#s) },
        None => quote! { ::core::option::Option::None },
    }
}
